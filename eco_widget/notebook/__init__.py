"""Everything that lives in a notebook: the :class:`VideoWidget` and
:class:`VideoGallery` (anywidget, with their front end in ``static/``), the home loop
that runs them, and the ``%ecovideo`` magics. Imported only when one of them is used:
it loads anywidget, ipywidgets and IPython."""
