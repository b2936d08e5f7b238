"""The front end's requests to a widget, and their answers (see static/PROTOCOL.md).

Front ends deliver a widget's messages on threads and loops of their choosing (a kernel
subshell in JupyterLab ≥ 4.4, marimo's kernel thread): every message, a form field's new
value as much as a click, is handed to the widget's home loop and handled there. Every
request (it carries a ``request`` id) gets exactly one answer: "started run r3", or
"refused", with the parameter at fault and why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidParameterError
from ._form import FORM_FIELDS
from ._pending import pending_entries

if TYPE_CHECKING:
    from .._async_client import AsyncClient
    from .._journal import JournalEntry
    from ._home_loop import HomeLoop
    from ._run import Run

__all__ = ["FrontEndRequests"]

logger = logging.getLogger("eco_widget")


class FrontEndRequests:
    """What a :class:`VideoWidget` does with the messages of its views."""

    _home: HomeLoop
    send: Callable[..., None]
    _form_values: Callable[[], dict[str, Any]]
    _start: Callable[[dict[str, Any]], Run]
    _run: Callable[[Any], Run | None]
    _stop_runs: Callable[[list[Run]], None]
    _try_client: Callable[[], AsyncClient | None]
    _resume_entries: Callable[[list[JournalEntry]], list[Run]]

    def _handle_msg(self, msg: dict[str, Any]) -> None:
        """Every message of the front end — a click, a form field's new value — runs on
        the home loop, whichever thread and loop the kernel delivered it on (a kernel
        subshell, marimo's thread): here it is only handed over."""
        # The widget base class, after this mixin in VideoWidget's MRO, defines it.
        self._home.call(super()._handle_msg, msg)  # type: ignore[misc]

    def _on_message(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        """Runs on whatever thread and loop the front end's transport chose (a kernel
        subshell, marimo's thread): only hands the message to the home loop."""
        if isinstance(content, dict):
            self._home.call(self._handle, content)

    def _handle(self, content: dict[str, Any]) -> None:
        """One message of the front end, on the home loop; every request (it carries a
        ``request`` id) gets exactly one answer (see static/PROTOCOL.md)."""
        kind, request = content.get("type"), content.get("request")
        try:
            if kind == "generate":
                params = content.get("params")
                values = self._form_values()
                if isinstance(params, dict):
                    values.update({k: v for k, v in params.items() if k in FORM_FIELDS})
                self._answer(request, run=self._start(values).key)
            elif kind == "stop":
                run = self._run(content.get("key"))
                if run is None or not run.active or run.task is None:
                    raise _Refused(f"Run {content.get('key')} is not running.")
                self._stop_runs([run])
                self._answer(request, run=run.key)
            elif kind == "video":
                self._home.spawn(self._send_video(content.get("key")), "eco_widget video")
            elif kind == "resume":
                self._home.spawn(self._resume_for(request), "eco_widget resume")
        except (InvalidParameterError, _Refused) as exc:
            self._answer(request, error=exc)
        except Exception as exc:  # answered, never left hanging; and reported
            logger.exception("eco_widget could not handle %r", kind)
            self._answer(request, error=exc)

    def _answer(
        self,
        request: Any,
        *,
        run: str | None = None,
        runs: list[str] | None = None,
        error: BaseException | None = None,
    ) -> None:
        if not isinstance(request, str):
            return  # a front end that asks for no answer
        answer: dict[str, Any] = {"type": "answer", "request": request, "ok": error is None}
        if error is not None:
            answer["param"] = error.param if isinstance(error, InvalidParameterError) else None
            answer["message"] = (
                error.message
                if isinstance(error, (InvalidParameterError, _Refused))
                else f"{type(error).__name__}: {error}"
            )
        elif runs is not None:
            answer["runs"] = runs
        else:
            answer["run"] = run
        self.send(answer)

    async def _resume_for(self, request: Any) -> None:
        """The banner's Resume: the journal is read in a worker thread."""
        try:
            client = self._try_client()
            entries = [] if client is None else await asyncio.to_thread(pending_entries, client)
            runs = self._resume_entries(entries)
        except Exception as exc:
            self._answer(request, error=exc)
            return
        self._answer(request, runs=[run.key for run in runs])

    async def _send_video(self, key: Any) -> None:
        run = self._run(key)
        if run is None or run.video is None:
            self.send({"type": "video_missing", "key": key, "message": "No video for this run."})
            return
        video = run.video
        try:
            data = await asyncio.to_thread(lambda: video.data)
        except OSError as exc:
            self.send({"type": "video_missing", "key": key, "message": f"Cannot read it: {exc}"})
            return
        filename = run.to_json()["video"]["filename"]
        self.send(
            {"type": "video", "key": key, "filename": filename, "mime": "video/mp4"},
            buffers=[data],
        )


class _Refused(Exception):
    """A request of the front end that cannot be done (answered with its message)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
