"""What the suite is pointed at: an API, a base URL, a credential, and API-specific values."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from image_api_contracts import APIS, devtokens

from .errors import UsageError

API_NAMES = tuple(APIS)
SETTABLE = {name: profile.settable for name, profile in APIS.items() if profile.settable}
# The ``--set`` keys as the options' help names them: "store_id, product_id (evotor), album_id (sharinpix)".
SETTABLE_HELP = "API-specific values: " + "; ".join(
    f"{', '.join(keys)} ({name})" for name, keys in SETTABLE.items()
)


def _check_token(token: str) -> None:
    """An empty token (an unset CI secret) or one that cannot be a header value is a usage error, not a
    run whose every request is refused and reads as contract breaks."""
    if not token.strip():
        raise UsageError("--token is empty (an unset CI secret?); give the credential or leave --token out")
    if token != token.strip():
        raise UsageError("--token has leading or trailing whitespace (a pasted newline?)")
    if any(not (32 <= ord(c) < 127) for c in token):
        raise UsageError("--token holds characters a header cannot carry (control or non-ASCII)")
    scheme = token.split(" ", 1)[0].lower()
    if " " in token and scheme in ("bearer", "token", "basic"):
        raise UsageError(f"--token is the credential alone: the suite adds the {token.split()[0]!r} scheme")


@dataclass(frozen=True)
class Target:
    api: str
    base_url: str  # includes the API's server path (tagged-images: .../v1)
    token: str | None = None  # None: a token the mock accepts
    values: dict[str, str] = field(default_factory=dict)  # --set KEY=VALUE
    seed: int | None = None
    max_examples: int = 10
    strict: bool = False
    read_only: bool = False
    only_rules: tuple[str, ...] = ()  # run only the checks of these rules (empty: all)
    concurrency: int = 4  # requests in flight at once where their order does not matter
    verbose: bool = False  # tracebacks in the output (-v); the summary alone otherwise
    bodies_dir: str = "conformance-bodies"  # where a failing request's binary body is saved for its curl
    shrink_seconds: float = 10.0  # time Hypothesis may spend minimising a failure (its default: 300 s)
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))

    def __post_init__(self):
        if self.api not in API_NAMES:
            raise UsageError(f"unknown API {self.api!r}; choose one of {', '.join(API_NAMES)}")
        if not self.base_url.startswith(("http://", "https://")):
            raise UsageError(f"--base-url must be an http(s) URL, not {self.base_url!r}")
        unknown = set(self.values) - set(SETTABLE.get(self.api, ()))
        if unknown:
            allowed = ", ".join(SETTABLE.get(self.api, ())) or "none"
            raise UsageError(
                f"--set {', '.join(sorted(unknown))} is not a setting of {self.api} (settable: {allowed})"
            )
        if self.token is not None:
            _check_token(self.token)
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    # -- credentials --------------------------------------------------------------------------------
    @property
    def credential(self) -> str | None:
        if self.token is not None:
            return self.token
        dev_token = APIS[self.api].dev_token
        return dev_token(self.values) if dev_token is not None else None

    def auth_headers(self, token: str | None = ...) -> dict[str, str]:
        """The header the API documents, carrying ``token`` (default: the target's credential)."""
        token = self.credential if token is ... else token
        return APIS[self.api].auth_headers(token) if token is not None else {}

    # -- API-specific values: unique per run unless set, so a shared server is never assumed empty ----
    @property
    def store_id(self) -> str:
        return self.values.get("store_id", f"ct-store-{self.run_id}")

    @property
    def product_id(self) -> str:
        return self.values.get("product_id", f"ct-product-{self.run_id}")

    @property
    def album_id(self) -> str:
        return self.values.get("album_id", devtokens.DEV_ALBUM)

    def unique(self, label: str) -> str:
        """A name no other run uses: ``ct-<run>-<label>-<random>``."""
        return f"ct-{self.run_id}-{label}-{secrets.token_hex(3)}"
