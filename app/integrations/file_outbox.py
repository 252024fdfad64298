"""The file outbox: where email and SMS go when no SMTP server or Twilio account is configured.

One folder (OUTBOX_DIR, instance/outbox by default) holds one file per message, named after the
message's key: `<key>.eml` for an email (RFC 5322, what a mail server would have received),
`<key>.sms.txt` for an SMS. A laptop without a mail server or Twilio account still shows what would
have been sent, and tests can read it back.

Each file is written whole or not at all (written beside its final name, then renamed), and its
name is the caller's key, so "was this message written?" has an exact answer (`delivered`): a send
interrupted by a crash is settled without writing twice. Both channels' transports are this class
with their own suffix and file contents (app/integrations/email.py, sms.py).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


class DeliveryError(Exception):
    """A message (email or SMS) that was not, or maybe not, accepted by its provider.

    `kind`: permanent (never retry), temporary (retry later) or unknown (it may have arrived);
    `code`: the provider's own error code, when it gave one."""

    def __init__(self, kind: str, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.code = code


EMAIL_SUFFIX = ".eml"
SMS_SUFFIX = ".sms.txt"


class FileOutbox:
    """Messages of one channel as files `<key><suffix>` in `folder`."""

    name = "outbox"

    def __init__(self, folder: str | os.PathLike, suffix: str) -> None:
        self.folder = Path(folder)
        self.suffix = suffix

    def path_for(self, key: str) -> Path:
        return self.folder / f"{key}{self.suffix}"

    def write(self, key: str, content: bytes, on_handoff: Callable[[], bool]) -> str | None:
        """Write `content` as the file of `key`; its reference ("file:<name>"), or None when
        `on_handoff()` said no (the caller lost its claim) and nothing was written. A failed write
        raises OSError and leaves no file behind."""
        if not on_handoff():
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.path_for(key)
        partial = final.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        try:
            partial.write_bytes(content)
            os.replace(partial, final)
        except OSError:
            partial.unlink(missing_ok=True)
            raise
        return f"file:{final.name}"

    def delivered(self, key: str) -> str | None:
        """The reference of the file of `key` if it was written, else None."""
        path = self.path_for(key)
        return f"file:{path.name}" if path.exists() else None

    def read(self, name: str) -> bytes | None:
        """The content of the file called `name` (as a reference names it), or None: also for a name
        that would reach outside the folder."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self.folder / name
        return path.read_bytes() if path.is_file() else None

    def purge(self, older_than: float) -> int:
        """Delete this channel's files last written before `older_than` (a POSIX time), and write
        leftovers (.tmp) of the same age. Returns how many were deleted."""
        if not self.folder.is_dir():
            return 0
        deleted = 0
        for path in self.folder.iterdir():
            if not (path.name.endswith(self.suffix) or path.name.endswith(".tmp")):
                continue
            try:
                if path.is_file() and path.stat().st_mtime < older_than:
                    path.unlink()
                    deleted += 1
            except FileNotFoundError:  # another process purged it first
                continue
        return deleted

    def close(self) -> None:
        pass
