"""The web dashboard of ``latepay serve`` and the offline weekly report: server-rendered
pages (Jinja2) with Plotly charts, every script and style bundled."""
