"""The `tocsin` command: serve, run the engine, migrate, and manage users and incidents.

Incident commands act as a person (`--as EMAIL`, or TOCSIN_USER; the first admin
when neither is given) and go through the same services as the API and the web.
Each command is one transaction: when any step is refused, nothing is written.
"""

from __future__ import annotations

import sys

import typer

from tocsin.cli.alerts import alert_app
from tocsin.cli.incidents import incident_app
from tocsin.cli.integrations import integration_app
from tocsin.cli.oncall import oncall_app
from tocsin.cli.policies import policy_app
from tocsin.cli.postmortems import postmortem_app
from tocsin.cli.server import db_app, serve, worker
from tocsin.cli.services import service_app
from tocsin.cli.tokens import token_app
from tocsin.cli.users import user_app

app = typer.Typer(
    help="Tocsin: incident management from first alert to last follow-up.", no_args_is_help=True
)
app.command()(serve)
app.command()(worker)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(service_app, name="service")
app.add_typer(integration_app, name="integration")
app.add_typer(policy_app, name="policy")
app.add_typer(incident_app, name="incident")
app.add_typer(alert_app, name="alert")
app.add_typer(oncall_app, name="oncall")
app.add_typer(postmortem_app, name="postmortem")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
