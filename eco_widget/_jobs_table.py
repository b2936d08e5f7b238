"""``eco_widget.jobs()``: the job journal as a table, newest first.

Each row says what became of a job: where its video was saved, or what is missing
(not saved yet, the URL's remaining lifetime, expired, lost). Plain text in a terminal
and in ``repr``, an HTML table in notebooks (every value escaped, no script, colours
from the notebook's theme) with a small poster of each saved video, ``to_records()``
for pandas or JSON.
"""

from __future__ import annotations

import base64
import html
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from ._exceptions import InvalidParameterError
from ._journal import EXPIRED, LOST, SUBMITTING, Journal, JournalEntry
from ._journal_entry import UNKNOWN_OUTCOME, from_earlier_session
from ._untrusted import escape_controls

__all__ = ["STATUSES", "JobsTable", "jobs"]

#: The statuses a journal entry can have: the server's, then the journal's own.
STATUSES = ("queued", "processing", "completed", "failed", EXPIRED, LOST, SUBMITTING)
_PROMPT_WIDTH = 48
_RESUME_HINT = "eco_widget.Client().resume() or `ecovideo resume` fetches them"
_UNKNOWN_HINT = (
    "reply was lost, so their job ids are unknown: the jobs may have been created and "
    "billed. Their parameters and seeds are above (`to_records()`), to make the same "
    "videos again."
)
_HEADERS = ("job id", "status", "submitted", "seed", "frames", "video", "prompt")
#: The posters in the HTML table: this wide (px), for at most this many rows.
POSTER_WIDTH = 96
MAX_POSTERS = 50
_NO_POSTER = "—"


def _origin(base_url: str) -> str:
    """What the journal files jobs under for a base URL (``"sandbox"``: its folder)."""
    if base_url.strip().lower() == "sandbox":
        from ._sandbox import sandbox_dir

        return f"sandbox:{sandbox_dir()}"
    from ._untrusted import without_userinfo

    return without_userinfo(base_url.strip()).rstrip("/")


def jobs(
    *,
    status: str | None = None,
    limit: int | None = 50,
    base_url: str | None = None,
    journal: Journal | str | os.PathLike[str] | None = None,
) -> JobsTable:
    """The jobs in the journal, newest first: a :class:`JobsTable`.

    ``status`` keeps one status (``queued``, ``processing``, ``completed``, ``failed``,
    ``expired`` or ``lost``); ``limit`` the newest N (``None``: all); ``base_url`` the
    jobs of one server (``"sandbox"``: the embedded sandbox's). ``journal`` is a
    :class:`Journal` or the path of a journal file (default: the data folder's). A
    damaged journal raises :class:`JournalError` and is left as it is.
    """
    if status is not None and status not in STATUSES:
        raise InvalidParameterError("status", status, "one of " + ", ".join(STATUSES))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidParameterError("limit", limit, "a whole number ≥ 1, or None for every job")
    if not isinstance(journal, Journal):
        journal = Journal(journal)
    origin = _origin(base_url) if base_url is not None else None
    entries = journal.entries(base_url=origin, status=status, limit=limit)
    return JobsTable(entries, path=journal.path, limit=limit, status=status)


class JobsTable(Sequence[JournalEntry]):
    """Journal entries, newest first, shown as a table.

    A sequence of :class:`JournalEntry`; ``repr`` is an aligned plain-text table, a
    notebook shows an HTML table, :meth:`to_records` gives a list of dicts.
    """

    def __init__(
        self,
        entries: Sequence[JournalEntry],
        *,
        path: str | os.PathLike[str],
        limit: int | None = None,
        status: str | None = None,
        now: float | None = None,
    ):
        self._entries = list(entries)
        self.path = Path(path)
        self.limit = limit
        self.status = status
        #: The moment the table describes (URL lifetimes count from it).
        self.now = time.time() if now is None else now

    @overload
    def __getitem__(self, index: int) -> JournalEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[JournalEntry]: ...
    def __getitem__(self, index: int | slice) -> JournalEntry | list[JournalEntry]:
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self._entries)

    # -- the cells ----------------------------------------------------------------------
    def _row(self, entry: JournalEntry) -> tuple[str, ...]:
        frames = f"{entry.num_frames}@{entry.fps}" if entry.num_frames and entry.fps else "?"
        row = (
            "—" if entry.is_unknown else entry.job_id,
            _status(entry),
            _when(entry.submitted_at, self.now),
            "?" if entry.seed is None else str(entry.seed),
            frames,
            video_note(entry, self.now, short=True),
            _prompt(entry.prompt, _PROMPT_WIDTH),
        )
        return tuple(_one_line(cell) for cell in row)

    def heading(self) -> str:
        """``"3 jobs in the journal at PATH"`` (``"the newest 50 jobs …"`` when the limit
        was reached, ``"no jobs …"`` when empty)."""
        kind = f"{self.status} " if self.status else ""
        if not self._entries:
            return f"no {kind}jobs in the journal at {self.path}"
        count = len(self._entries)
        newest = "the newest " if self.limit is not None and count >= self.limit else ""
        noun = "job" if count == 1 else "jobs"
        return f"{newest}{count} {kind}{noun} in the journal at {self.path}"

    def footer(self) -> str | None:
        """What to do about the jobs whose video is not saved yet, if any."""
        notes = []
        waiting = sum(1 for entry in self._entries if _recoverable(entry, self.now))
        if waiting:
            noun = "job is" if waiting == 1 else "jobs are"
            notes.append(f"{waiting} {noun} not saved yet: {_RESUME_HINT}")
        unknown = sum(1 for entry in self._entries if _unknown(entry))
        if unknown:
            noun = "submission's" if unknown == 1 else "submissions'"
            notes.append(f"{unknown} {noun} {_UNKNOWN_HINT}")
        return "\n".join(notes) or None

    # -- the views ----------------------------------------------------------------------
    def __repr__(self) -> str:
        if not self._entries:
            return self.heading()
        rows = [_HEADERS, *(self._row(entry) for entry in self._entries)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS) - 1)]
        lines = [self.heading()]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
            lines.append("  ".join([*cells, row[-1]]).rstrip())
        footer = self.footer()
        if footer:
            lines.append(footer)
        return "\n".join(lines)

    def __str__(self) -> str:
        return repr(self)

    def _repr_html_(self) -> str:
        heading = f"<div {_CAPTION}>{_e(self.heading())}</div>"
        if not self._entries:
            return f'<div class="eco-jobs">{heading}</div>'
        head = "".join(f"<th {_TH}>{_e(name)}</th>" for name in ("poster", *_HEADERS))
        body = "".join(
            self._html_row(entry, poster=row < MAX_POSTERS)
            for row, entry in enumerate(self._entries)
        )
        footer = self.footer()
        tail = f"<div {_CAPTION}>{_e(footer)}</div>" if footer else ""
        return (
            f'<div class="eco-jobs">{heading}<table {_TABLE}><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{tail}</div>"
        )

    def _html_row(self, entry: JournalEntry, *, poster: bool) -> str:
        cells = self._row(entry)
        titles = {5: entry.saved_path or entry.error_message, 6: entry.prompt}
        out = [f'<td style="{_CELL}">{poster_html(entry) if poster else _NO_POSTER}</td>']
        for i, cell in enumerate(cells):
            css = _CELL + (_MONO if i in (0, 3, 4) else "")
            if i == 1:
                css += f";color:{_STATUS_COLOURS.get(entry.status, 'inherit')}"
            title = titles.get(i)
            extra = f' title="{_e(title)}"' if title and title != cell else ""
            out.append(f'<td style="{css}"{extra}>{_e(cell)}</td>')
        return f"<tr>{''.join(out)}</tr>"

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per job: every journal field, ``saved`` (the file is there, whole)
        and ``video`` (the table's video column, e.g. ``"expired"``).

        ``progress`` is a fraction from 0 to 1: ``1.0`` for a rendered job (completed,
        or completed and then expired); for one processing, failed or lost, the last
        progress the journal recorded (how far it had got); ``None`` where none was
        recorded (queued, being submitted, or failed before it was seen processing)."""
        return [
            {
                **entry.to_dict(),
                "progress": _progress(entry),
                "saved": entry.is_saved,
                "video": video_note(entry, self.now),
            }
            for entry in self._entries
        ]


# -- wording ------------------------------------------------------------------------------
def video_note(entry: JournalEntry, now: float | None = None, *, short: bool = False) -> str:
    """Where the job's video is, or what is missing: the saved path (``short``: with the
    home folder as ``~``), ``"not saved · URL expires in 3 h"``, ``"expired …"``,
    ``"lost …"``, ``"failed: …"``."""
    now = time.time() if now is None else now
    if entry.saved_path is not None:
        where = _short_path(entry.saved_path) if short else entry.saved_path
        if entry.is_saved:
            return where
        if not os.path.exists(entry.saved_path):
            return f"file missing: {where}"
        return f"file changed: {where}"
    if entry.is_unknown:
        if not _unknown(entry):
            return "being submitted"
        return entry.error_message or "no reply to the submission (the process ended)"
    if entry.status == "failed":
        return f"failed: {entry.error_message}" if entry.error_message else "failed"
    if entry.status == LOST:
        return "lost (unknown to the server)"
    if entry.is_expired(now):
        return "expired (the URL expired before it was saved)"
    if entry.status == "completed":
        if entry.expires_at is None:
            return "not saved"
        return f"not saved · URL expires in {_span(entry.expires_at - now)}"
    return "not saved yet"


def poster_html(entry: JournalEntry, width: int = POSTER_WIDTH) -> str:
    """An ``<img>`` of the saved video's middle frame, ``width`` pixels wide, as an
    embedded JPEG (a few KiB in the notebook) whose alt text is the prompt; a dash when
    there is no poster to show (no saved video, a file missing, changed or unreadable,
    or no ``media`` extra).

    Decoded here, when the table is shown: listing jobs imports no media code."""
    if not entry.is_saved:
        return _NO_POSTER
    assert entry.saved_path is not None
    try:
        from ._media import jpeg, middle_frame

        data = jpeg(middle_frame(Path(entry.saved_path), width=width))
    except Exception:  # no media extra, or a file that is not a video: no poster
        return _NO_POSTER
    alt = _e(_one_line(entry.prompt or ""))
    source = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{source}" alt="{alt}" width="{width}" style="display:block">'


def _short_path(path: str) -> str:
    """``path`` with the home folder written ``~``."""
    home = os.path.expanduser("~")
    if home not in ("", "~", os.sep) and path.startswith(home + os.sep):
        return "~" + path[len(home) :]
    return path


def _recoverable(entry: JournalEntry, now: float) -> bool:
    return (
        entry.saved_path is None
        and entry.status not in ("failed", EXPIRED, LOST, SUBMITTING)
        and not entry.is_expired(now)
    )


def _unknown(entry: JournalEntry) -> bool:
    """A submission whose reply was lost, or whose process ended before it came (one
    that a live process is sending now is not unknown yet)."""
    return entry.is_unknown and (entry.error_message is not None or from_earlier_session(entry))


def _progress(entry: JournalEntry) -> float | None:
    """The job's progress as of its status: the journal keeps the last progress a
    snapshot carried, and a completed job's snapshot carries none."""
    if entry.status in ("completed", EXPIRED):
        return 1.0
    return entry.progress


def _status(entry: JournalEntry) -> str:
    if entry.is_unknown:
        return UNKNOWN_OUTCOME if _unknown(entry) else "submitting"
    if entry.status == "processing" and entry.progress is not None:
        return f"processing {entry.progress:.0%}"
    return entry.status


def _span(seconds: float) -> str:
    """A rough duration: ``"45 s"``, ``"12 min"``, ``"3 h"``, ``"2 d"``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def _when(timestamp: float, now: float) -> str:
    """Local time, short: ``"today 14:03"``, else ``"2024-05-01 14:03"``."""
    local = time.localtime(timestamp)
    if time.strftime("%Y-%m-%d", local) == time.strftime("%Y-%m-%d", time.localtime(now)):
        return time.strftime("today %H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def _prompt(prompt: str | None, width: int) -> str:
    text = _one_line(prompt or "")
    return text if len(text) <= width else text[: width - 1] + "…"


def _one_line(text: str) -> str:
    """``text`` on one line, without control characters (a terminal shows it as is):
    line breaks become spaces, every other control (:func:`escape_controls`) and
    character that does not print becomes ``?``."""
    text = escape_controls(" ".join(text.split()), replacement="?")
    return "".join(char if char.isprintable() else "?" for char in text)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


# Inline styles only (no <style> or <script>): theme colours where the notebook has
# them, neutral fallbacks that read on light and dark backgrounds.
_TABLE = (
    'style="border-collapse:collapse;font-size:12px;line-height:1.4;color:inherit;'
    'background:transparent;margin:2px 0"'
)
_CELL = (
    "padding:2px 10px 2px 0;text-align:left;vertical-align:top;white-space:nowrap;"
    "border-bottom:1px solid var(--jp-border-color2,rgba(128,128,128,.25))"
)
_TH = f'style="{_CELL};font-weight:600;opacity:.75"'
_MONO = ";font-family:var(--jp-code-font-family,monospace)"
_CAPTION = 'style="font-size:12px;opacity:.75;margin:2px 0"'
_STATUS_COLOURS = {
    SUBMITTING: "var(--jp-warn-color1,#c77c02)",
    "completed": "var(--jp-success-color1,#3c9a5f)",
    "failed": "var(--jp-error-color1,#d9534f)",
    EXPIRED: "var(--jp-warn-color1,#d9822b)",
    LOST: "var(--jp-warn-color1,#d9822b)",
}
