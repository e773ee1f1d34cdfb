"""The ``replay`` options that describe a Sigfox callback (the requests are rendered from them:
``replay/rules/sigfox.py``). Kept here so ``cli/replay.py`` stays one screenful per concern;
importing it costs typer only. (``--content-type``, shared with ``register``, is in
``cli/common.py``.)"""

from __future__ import annotations

from typing import Annotated

import typer

CallbackTypeOpt = Annotated[
    str | None,
    typer.Option("--callback-type", help="sigfox: the callback type whose {variables} the "
                 "templates may use (default data/uplink; data/bidir shows downlink answers).",
                 show_default=False),
]
UrlTemplateOpt = Annotated[
    str | None,
    typer.Option("--url-template", help="sigfox: URL with {variables}, or a suffix of --to such "
                 "as '?id={device}'.", show_default=False),
]
MethodOpt = Annotated[
    str | None,
    typer.Option("--method", help="sigfox: GET, POST or PUT (default POST).", show_default=False),
]
BodyTemplateOpt = Annotated[
    str | None,
    typer.Option("--body-template", help="sigfox: body with {variables}.", show_default=False),
]
BatchOpt = Annotated[
    bool, typer.Option("--batch", help="sigfox: BATCH_URL, one --line-pattern line per message, "
                       "grouped by one-second windows.")
]
LinePatternOpt = Annotated[
    str | None,
    typer.Option("--line-pattern", help="sigfox --batch: each message's line, e.g. "
                 "'{device};{time};{data}'.", show_default=False),
]
