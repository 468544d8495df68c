"""What every admin view shares: the settings, the store, the loaded mappings, the clock, the session keys."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.mapping import MappingSet
from bridge.settings import Settings
from bridge.store.store import Store
from bridge.web.admin.mappings import CheckCache
from bridge.web.admin.session import Sessions, derive_key
from bridge.web.admin.throttle import Throttle

SALT_CONTROL = "admin_session_salt"


@dataclass
class Console:
    settings: Settings
    store: Store
    providers: tuple[str, ...]
    mappings: MappingSet | None
    mapping_error: str | None
    clock: Callable[[], float]
    checks: CheckCache = field(default_factory=CheckCache, repr=False)
    _sessions: Sessions | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def throttle(self) -> Throttle:
        return Throttle(self.store)

    def sessions(self) -> Sessions:
        """The session codec, its key derived once per process from the password and the deployment's salt."""
        with self._lock:
            if self._sessions is None:
                password = self.settings.admin_password
                assert password, "the admin console runs only with BRIDGE_ADMIN_PASSWORD"
                self._sessions = Sessions(derive_key(password, self._salt()))
            return self._sessions

    def _salt(self) -> bytes:
        """A random salt made by the first process that needs one and kept in `controls` for all the others."""
        found = self.store.control(SALT_CONTROL)
        if found is None:
            self.store.swap_control(SALT_CONTROL, None, secrets.token_hex(16), self.clock())
            found = self.store.control(SALT_CONTROL)
        assert found is not None
        return bytes.fromhex(found)
