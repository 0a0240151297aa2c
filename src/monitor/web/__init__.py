"""The web page (`monitor serve`): read digests and matches, search, judge, see feed health.

`server.create_app` builds the Starlette app over an `App`; `server.serve` runs it with uvicorn.
Pages are rendered from `views` (pure: records in, template values out) through autoescaped
Jinja2 templates in `templates/`; `security` holds the token and CSRF rules.
"""

from .server import Running, create_app, serve, serve_command, start_in_thread

__all__ = ["Running", "create_app", "serve", "serve_command", "start_in_thread"]
