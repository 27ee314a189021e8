"""The reviewer web console. Other surfaces import from here."""

from signoff.server.console.app import ConsoleSettings, serve_console

__all__ = ["ConsoleSettings", "serve_console"]
