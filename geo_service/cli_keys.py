"""``geo-service keys create|list|revoke`` and ``geo-service audit``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from geo_service.audit import cli_actor, record
from geo_service.auth.keys import create_key
from geo_service.cli_common import WorkspaceOpt, err, out, settings_for, user_errors
from geo_service.stores import open_store

keys_app = typer.Typer(help="API keys for scripts: create (the secret is shown once), list, revoke.",
                       no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="who or what uses the key, e.g. 'Kongsberg GIS (FME)'")],
    role: Annotated[str, typer.Option("--role", help="reader, editor or admin")],
    municipality: Annotated[list[str] | None, typer.Option(
        "--municipality", "-m", help="municipality code the key may publish for (repeat), e.g. 3303")] = None,
    days: Annotated[int | None, typer.Option("--days", min=1, help="expires after this many days")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create an API key; the secret is printed once and never stored (only its Argon2 hash)."""
    with user_errors():
        store = open_store(settings_for(workspace))
        expires = datetime.now(UTC) + timedelta(days=days) if days else None
        key, secret = create_key(store, name, role, municipality or [], expires)
        record(store, cli_actor(), "key-create", key.key_id, "ok", role=key.role,
               municipalities=list(key.municipalities), name=key.name)
    err.print(Text(f"created key {key.key_id} ({key.role}, municipalities: "
                   f"{', '.join(key.municipalities) or 'none'}); store the secret now, it is not shown again:"),
              highlight=False)
    out.print(Text(secret), highlight=False, soft_wrap=True)


@keys_app.command("list")
def keys_list(workspace: WorkspaceOpt = None) -> None:
    """List keys (never their secrets)."""
    with user_errors():
        keys = open_store(settings_for(workspace)).api_keys()
    table = Table("id", "name", "role", "municipalities", "created (UTC)", "expires", "status")
    now = datetime.now(UTC)
    for k in keys:
        status = ("revoked" if k.revoked else "expired" if k.expires and k.expires <= now else "active")
        table.add_row(k.key_id, Text(k.name), k.role, ", ".join(k.municipalities),
                      f"{k.created:%Y-%m-%d %H:%M}", f"{k.expires:%Y-%m-%d}" if k.expires else "", status)
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="key id (from `keys list`)")],
                workspace: WorkspaceOpt = None) -> None:
    """Revoke a key at once (every process refuses it on its next request)."""
    with user_errors():
        store = open_store(settings_for(workspace))
        if not store.revoke_api_key(key_id):
            raise ValueError(f"no active key {key_id!r}; see `geo-service keys list`")
        record(store, cli_actor(), "key-revoke", key_id, "ok")
    out.print(f"revoked key {key_id}")


def audit(limit: Annotated[int, typer.Option(min=1, max=100_000, help="newest entries shown")] = 50,
          target: Annotated[str | None, typer.Option(help="only this layer, upload or key")] = None,
          workspace: WorkspaceOpt = None) -> None:
    """Show the audit log of writes, newest first."""
    with user_errors():
        entries = open_store(settings_for(workspace)).audit_entries(limit, target)
    table = Table("when (UTC)", "who", "action", "target", "result", "source", "sha256")
    for e in entries:
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}" if e.at else "", Text(e.actor), e.action, Text(e.target),
                      e.result, Text(e.source_name), e.source_sha256[:12])
    out.print(table)
