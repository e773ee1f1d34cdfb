"""``notifyctl inspect``: a terminal UI over what ``replay`` reads (captures, HAR files, bodies).

``index`` (captures indexed by byte offset, the rest held), ``summary`` (a row, decoded when
drawn), ``rate`` (time span and sparkline), ``detail`` (the detail pane's text), ``actions``
(filter, resend, export), ``table`` and ``app`` (the Textual UI). Only this package imports
Textual, and only when the command runs. Names no platform.
"""
