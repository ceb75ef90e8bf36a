"""Settings: ``alertpilot.yaml`` plus ``ALERTPILOT_*`` environment, loaded once per entry point.

Secrets never live in the file: fields ending in ``_env`` name the environment variable
that holds them, read at the moment of use.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from state.policy import Policy, TriagePolicy
from state.strict import Strict
from state.subject import Subject, probed_names

CONFIG_ENV = "ALERTPILOT_CONFIG"
CONFIG_NAME = "alertpilot.yaml"
Role = Literal["viewer", "approver", "admin"]
WebhookSource = Literal["alertmanager", "tencent", "cls", "generic"]


class ConfigError(ValueError):
    """The configuration file or environment is invalid; the message names the field."""


class DatabaseConfig(Strict):
    """Where checkpoints, incidents, reports, audit and the queue live."""

    url: str | None = Field(default=None, description="None = SQLite in $ALERTPILOT_HOME.")


StructuredOutput = Literal["json_schema", "tool_calling", "json_object"]


class LLMConfig(Strict):
    """The brain: ``offline`` (deterministic playbooks) or ``provider:model`` (``openai:`` = any OpenAI-compatible API).

    Every request is bounded: ``timeout_s`` per request, ``max_retries`` on transient
    errors, ``max_output_tokens`` per answer (a small model otherwise writes to the end of
    its context); the incident's totals are bounded by ``policy.max_llm_tokens`` and
    ``policy.max_llm_seconds``.
    """

    model: str = Field(default="offline", description="offline, openai:<name>, or <provider>:<name> (LangChain).")
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = Field(default=0.0, ge=0, le=2)
    timeout_s: float = Field(default=60.0, gt=0, le=3600, description="One request's limit, connect to last byte.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed request (timeouts, 5xx, 429).")
    max_output_tokens: int = Field(default=1024, ge=16, le=65536, description="Cap on one answer's tokens.")
    max_tool_calls: int = Field(default=12, ge=1, le=100, description="Tool calls one agent run may make.")
    max_prompt_chars: int = Field(
        default=12_000,
        ge=500,
        le=1_000_000,
        description="The longest task text an agent sends; the least telling evidence is dropped to fit "
        "(a small model's context).",
    )
    structured_output: StructuredOutput = Field(
        default="json_object",
        description="How an agent's final answer is asked for: json_schema (the provider enforces the schema), "
        "tool_calling (an answer tool, tool_choice auto) or json_object (JSON mode, validated, one repair turn).",
    )
    redact: list[str] = Field(
        default_factory=list, description="Extra regular expressions masked in everything sent to the model."
    )

    @field_validator("redact")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        import re

        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return patterns


class PrometheusConfig(Strict):
    """A Prometheus HTTP API to read metrics from."""

    url: str | None = None
    timeout_s: float = 10.0


class ClsTopics(Strict):
    """One CLS topic per log kind."""

    business: str | None = None
    event: str | None = None
    audit: str | None = None


class ClsConfig(Strict):
    """Tencent CLS access."""

    region: str = "ap-guangzhou"
    endpoint: str | None = Field(default=None, description="host:port override (tests).")
    topics: ClsTopics = Field(default_factory=ClsTopics)
    secret_id_env: str = "TENCENTCLOUD_SECRET_ID"
    secret_key_env: str = "TENCENTCLOUD_SECRET_KEY"


class CosConfig(Strict):
    """COS bucket holding shipped log archives."""

    bucket: str | None = None
    region: str = "ap-guangzhou"
    prefix: str = ""
    endpoint: str | None = None
    secret_id_env: str = "TENCENTCLOUD_SECRET_ID"
    secret_key_env: str = "TENCENTCLOUD_SECRET_KEY"


class LogsConfig(Strict):
    """Log sources the diagnosis reads."""

    files: list[Path] = Field(default_factory=list)
    cls: ClsConfig = Field(default_factory=ClsConfig)
    cos: CosConfig = Field(default_factory=CosConfig)
    window_min: int = 30
    owners: dict[str, str] = Field(
        default_factory=dict,
        description="Source-name prefix (path, cos://bucket/prefix, cls://TOPIC) → namespace/workload whose "
        "records carry no identity of their own.",
    )


class GithubConfig(Strict):
    """GitHub or GitHub Enterprise API."""

    url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"
    clones: dict[str, Path] = Field(default_factory=dict, description="OWNER/NAME → local clone read with git.")


class KubernetesConfig(Strict):
    """The Kubernetes API the kubernetes executor backend acts on."""

    kubeconfig: Path | None = Field(default=None, description="None = in-cluster config, else ~/.kube/config.")
    context: str | None = None
    host: str | None = Field(default=None, description="API server URL; overrides the kubeconfig (tests).")
    token_env: str | None = Field(default=None, description="Env var holding a bearer token (with host).")
    verify_ssl: bool = True
    namespace: str = "default"
    dry_run: bool = Field(default=False, description="Server-side dry run (dryRun=All): validated, not persisted.")


class CloudMonitorConfig(Strict):
    """Tencent Cloud Monitor (monitor API 2018-07-24), read for the signal of a Cloud Monitor metric alarm."""

    region: str = Field(default="ap-guangzhou", description="Used when an alarm names no region.")
    endpoint: str | None = Field(default=None, description="host:port override (tests).")
    secret_id_env: str = "TENCENTCLOUD_SECRET_ID"
    secret_key_env: str = "TENCENTCLOUD_SECRET_KEY"


class TkeConfig(Strict):
    """The TKE cluster whose Helm releases the tke executor backend rolls back."""

    region: str = "ap-guangzhou"
    cluster_id: str | None = None
    cluster_type: str = "tke"
    namespace: str = "default"
    endpoint: str | None = Field(default=None, description="host:port override (tests).")
    secret_id_env: str = "TENCENTCLOUD_SECRET_ID"
    secret_key_env: str = "TENCENTCLOUD_SECRET_KEY"


class ExecutorConfig(Strict):
    """How actions reach the target host (client side) and what ``executor serve`` acts on."""

    backend: Literal["dry-run", "process", "http", "kubernetes", "tke"] = "dry-run"
    url: str | None = None
    token_env: str = "ALERTPILOT_EXECUTOR_TOKEN"
    timeout_s: float = 30.0
    retry_s: float = Field(
        default=20.0, ge=0,
        description="An unreachable executor is retried with backoff for this long within one attempt (same key).",
    )  # fmt: skip
    audit_path: Path | None = None
    service: str | None = Field(default=None, description="Target when a request names no service.")
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    tke: TkeConfig = Field(default_factory=TkeConfig)


class ServiceConfig(Strict):
    """What alertpilot knows about one service."""

    criticality: int = Field(default=50, ge=0, le=100)
    repo: str | None = Field(default=None, description="OWNER/NAME on GitHub.")
    users: int | None = Field(default=None, ge=0, description="Users affected when it is down.")
    known_good_version: str | None = None
    version_metric: str = Field(default="build_info", description="Metric whose `version` label names what runs.")
    aliases: list[str] = Field(
        default_factory=list, description="Other names alerts use for it (Service, app label, application name)."
    )
    match: dict[str, str] = Field(
        default_factory=dict,
        description="Alert labels that identify it (all must match), e.g. {application: cart-api}.",
    )
    namespace: str | None = Field(default=None, description="Its namespace, when alerts do not carry one.")


class UserConfig(Strict):
    """A person alertpilot acts for or reports to."""

    name: str
    email: str | None = None
    rollback_permission: bool = False
    role: Role | None = Field(
        default=None,
        description="Role on the page after a password or SSO login; None = approver with rollback_permission, "
        "else viewer (a token carries its own role).",
    )
    speaker: str | None = Field(
        default=None, description="The speaker name the voice assistant's voiceprint gives this person (approvals)."
    )
    channels: list[str] = Field(
        default_factory=list,
        description="email | wecom | dingtalk | feishu | slack | webhook | pagerduty (voice may override them).",
    )
    mobile: str | None = Field(default=None, description="Mobile number DingTalk robots @-mention.")
    dingtalk_user_id: str | None = Field(default=None, description="DingTalk user id robots @-mention.")
    slack_user_id: str | None = Field(default=None, description="Slack member id (U...) a Slack message mentions.")
    tencent_secret_id_env: str | None = None
    tencent_secret_key_env: str | None = None

    @property
    def page_role(self) -> Role:
        """The role a password or SSO login gets: ``role``, else approver with rollback_permission, else viewer."""
        return self.role or ("approver" if self.rollback_permission else "viewer")


SMTP_KEYS = frozenset({"host", "port", "sender", "starttls", "ssl", "timeout_s", "username_env", "password_env"})
# The connection keys langchain-mcp-adapters' MultiServerMCPClient takes (stdio, sse, streamable_http, websocket).
MCP_CONNECTION_KEYS = frozenset(
    {
        "transport", "command", "args", "env", "cwd", "encoding", "encoding_error_handler", "session_kwargs",
        "url", "headers", "timeout", "sse_read_timeout", "terminate_on_close", "auth",
    }
)  # fmt: skip


def unknown_keys(given: dict[str, Any], known: frozenset[str]) -> None:
    """Raise naming the first key of ``given`` not in ``known``."""
    for key in given:
        if key not in known:
            raise ValueError(f"{key}: unknown key (known: {', '.join(sorted(known))})")


class NotifyConfig(Strict):
    """Push channels, follow-ups and delivery retries; every secret (and secret-bearing URL) by env-var name."""

    smtp: dict[str, Any] = Field(default_factory=dict, description=f"Keys: {', '.join(sorted(SMTP_KEYS))}.")
    wecom_webhook_env: str | None = None
    dingtalk_webhook_env: str | None = None
    dingtalk_secret_env: str | None = None
    feishu_webhook_env: str | None = None
    feishu_secret_env: str | None = None
    slack_webhook_env: str | None = Field(default=None, description="Env var with a Slack incoming-webhook URL.")
    slack_bot_token_env: str | None = Field(
        default=None, description="Env var with a Slack bot token (xoxb-...); used with slack_channel instead."
    )
    slack_channel: str | None = Field(default=None, description="Channel id the bot posts to (chat.postMessage).")
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL.")
    webhook_url_env: str | None = Field(default=None, description="Env var with the generic outbound webhook URL.")
    webhook_secret_env: str | None = Field(
        default=None, description="Env var with the HMAC-SHA256 key signing the generic webhook's body."
    )
    pagerduty_routing_key_env: str | None = Field(
        default=None, description="Env var with the PagerDuty Events API v2 integration (routing) key."
    )
    pagerduty_url: str = Field(default="https://events.pagerduty.com/v2/enqueue", description="Events API v2 URL.")
    timeout_s: float = Field(default=10.0, gt=0, description="Per request to a robot, webhook or API.")
    follow_up_after_h: float = Field(
        default=12.0, gt=0, description="Push an incident still escalated or awaiting approval again every this long."
    )
    follow_up_channels: list[str] = Field(
        default_factory=list, description="Channels of follow-ups (empty: each user's own channels)."
    )
    escalation_reminder_h: float | None = Field(
        default=None, gt=0, description="Deprecated name of follow_up_after_h (used when that is not set)."
    )
    retry_attempts: int = Field(default=6, ge=1, le=20, description="Tries of a push before it is given up.")
    retry_backoff_s: float = Field(
        default=60.0, gt=0, description="First wait before a failed push is tried again (doubles each time)."
    )

    @model_validator(mode="after")
    def _old_reminder_name(self) -> NotifyConfig:
        if self.escalation_reminder_h is not None and "follow_up_after_h" not in self.model_fields_set:
            self.follow_up_after_h = self.escalation_reminder_h
        return self

    @field_validator("smtp")
    @classmethod
    def _smtp_keys(cls, smtp: dict[str, Any]) -> dict[str, Any]:
        unknown_keys(smtp, SMTP_KEYS)
        return smtp


class AssistantConfig(Strict):
    """The voice assistant's MCP server: Tencent Cloud defaults and the speaker cache."""

    region: str = "ap-guangzhou"
    tke_endpoint: str | None = Field(default=None, description="host:port override (tests).")
    session_ttl_s: float = Field(default=900.0, gt=0, description="How long a named speaker is remembered.")
    endpoint_env: str = Field(
        default="XIAOZHI_MCP_ENDPOINT",
        description="Env var with the Xiaozhi MCP endpoint URL, token included (wss://.../mcp/?token=...).",
    )
    connect: bool = Field(default=False, description="`serve` keeps `mcp connect assistant` running as a child.")
    ping_interval_s: float = Field(default=20.0, gt=0, description="WebSocket keepalive ping period.")
    ping_timeout_s: float = Field(default=20.0, gt=0, description="A ping unanswered this long drops the connection.")
    reconnect_max_s: float = Field(default=120.0, gt=0, description="Longest wait between reconnection tries.")


class AuthConfig(Strict):
    """Who may use the API and the page: webhook credentials per source, page sessions, SSO, links."""

    webhook_tokens: dict[WebhookSource, str] = Field(
        default_factory=dict,
        description="Source -> env var holding that source's own webhook token (default: server.token_env).",
    )
    session_ttl_s: float = Field(default=43200.0, gt=0, description="How long a page login lasts.")
    trusted_header: str | None = Field(
        default=None, description="Header a reverse proxy names the signed-in user in (X-Forwarded-User, ...)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Addresses or CIDR ranges trusted_header is accepted from."
    )
    protect_metrics: bool = Field(default=False, description="/metrics and /openapi.json need a viewer credential.")
    public_url: str | None = Field(
        default=None, description="The URL people open (https://alertpilot.example.com): notice links, allowed Origin."
    )
    link_secret_env: str | None = Field(
        default=None, description="Env var with the approval links' signing key (default: a key kept in the database)."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or CIDR range") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value.rstrip("/") if value else value


class ServerConfig(Strict):
    """``alertpilot serve`` and ``alertpilot worker``: webhook auth, queue leases."""

    token_env: str = Field(
        default="ALERTPILOT_WEBHOOK_TOKEN", description="Env var with the webhook token (every source's default)."
    )
    hmac_secret_env: str = Field(
        default="ALERTPILOT_WEBHOOK_SECRET", description="Env var with the generic webhook's HMAC key."
    )
    lease_s: float = Field(default=30.0, gt=0, description="A worker's hold on an incident, renewed while alive.")
    poll_s: float = Field(default=0.5, gt=0, description="How often an idle worker looks for work.")
    worker_mode: Literal["process", "thread"] = Field(
        default="process", description="`serve`'s own worker: a child process (default) or a thread."
    )
    worker_nice: int = Field(default=10, ge=0, le=19, description="CPU niceness of `serve`'s worker process.")
    auth: AuthConfig = Field(default_factory=AuthConfig)


class BriefingConfig(Strict):
    """When the daily briefing is given (the ``briefing`` job's cron is under ``schedule:``)."""

    window: str = Field(default="06:00-10:00", description="Local HH:MM-HH:MM; scheduler and greeting only.")
    utc_offset_hours: float | None = Field(
        default=None, description="The team's time zone; default triage.working_hours.utc_offset_hours."
    )


class Settings(BaseSettings):
    """All of alertpilot's configuration."""

    model_config = SettingsConfigDict(env_prefix="ALERTPILOT_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(default_factory=lambda: Path("~/.alertpilot").expanduser())
    language: Literal["zh", "en"] = "zh"
    acting_user: str = Field(default="alertpilot", description="Who the agent acts as.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    github: GithubConfig = Field(default_factory=GithubConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    kubernetes: KubernetesConfig | None = Field(
        default=None, description="The cluster the Kubernetes read tools look at (None = none configured)."
    )
    cloud_monitor: CloudMonitorConfig | None = Field(
        default=None, description="Tencent Cloud Monitor for get_monitor_data (None = not configured)."
    )
    policy: Policy = Field(default_factory=Policy)
    triage: TriagePolicy = Field(default_factory=TriagePolicy)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    users: list[UserConfig] = Field(default_factory=list)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    schedule: dict[str, str] = Field(default_factory=dict, description="Job name -> cron expression.")
    briefing: BriefingConfig = Field(default_factory=BriefingConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    mcp_servers: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Name -> a langchain-mcp-adapters connection (transport, command, url...)."
    )
    assistant: AssistantConfig = Field(default_factory=AssistantConfig)
    world: Path | None = Field(default=None, description="Scenario world for demo/eval runs.")

    @field_validator("mcp_servers")
    @classmethod
    def _mcp_connection_keys(cls, servers: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, connection in servers.items():
            try:
                unknown_keys(connection, MCP_CONNECTION_KEYS)
            except ValueError as exc:
                raise ValueError(f"{name}.{exc}") from None
        return servers

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit arguments win, then the environment, then the YAML file."""
        yaml_file = settings_cls.model_config.get("yaml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the store (SQLite in home unless ``database.url`` is set)."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.home / 'alertpilot.db'}"

    def service(self, name: str | None) -> ServiceConfig:
        """Config of service ``name`` (defaults when unknown)."""
        return self.services.get(name or "", ServiceConfig(criticality=self.triage.default_criticality))

    def resolve_service(self, subject: Subject, labels: dict[str, str]) -> Subject:
        """The subject under the name ``services:`` knows it by (aliases, label matches), with the evidence."""
        # a probe (blackbox) target the team configured is its own service, not a dependency
        probe = subject.kind == "dependency" and subject.reporter == "blackbox-exporter"
        names = ({subject.name} | probed_names(labels)) if probe else {subject.name}
        for name, service in self.services.items():
            aliased = sorted(n for n in names if n in service.aliases)
            by_alias = (subject.kind == "workload" or probe) and bool(aliased)
            by_labels = bool(service.match) and all(labels.get(k) == v for k, v in service.match.items())
            by_name = probe and name in names
            if not (by_alias or by_labels or by_name) or (subject.name == name and subject.kind == "workload"):
                continue
            if by_labels:
                why = f"services.{name}.match {service.match}"
            elif by_alias:
                why = f"services.{name}.aliases has {aliased[0]}"
            else:
                why = f"services.{name} is the probed target"
            evidence = subject.evidence | {"name": why}
            update: dict[str, object] = {"kind": "workload", "name": name, "evidence": evidence}
            if service.namespace and not subject.namespace:
                update["namespace"] = service.namespace
            return subject.model_copy(update=update)
        own = self.services.get(subject.name or "")
        if own is not None and own.namespace and not subject.namespace:
            return subject.model_copy(update={"namespace": own.namespace})
        return subject

    def user(self, name: str) -> UserConfig | None:
        """The configured user called ``name`` (case-insensitive)."""
        wanted = name.strip().lower()
        return next((u for u in self.users if u.name.lower() == wanted), None)

    def speaker_user(self, speaker: str) -> UserConfig | None:
        """The configured user whose ``speaker`` is ``speaker`` (case-insensitive): who the voice identified."""
        wanted = speaker.strip().lower()
        if not wanted:
            return None
        return next((u for u in self.users if u.speaker and u.speaker.strip().lower() == wanted), None)

    def login_user(self, login: str) -> UserConfig | None:
        """The configured user a sign-in name (user name or e-mail, as a proxy sends it) belongs to."""
        wanted = login.strip().lower()
        if not wanted:
            return None
        return self.user(wanted) or next((u for u in self.users if u.email and u.email.lower() == wanted), None)

    def readers(self) -> list[UserConfig]:
        """The people among ``users``: everyone but the account the agent acts as."""
        return [u for u in self.users if u.name.lower() != self.acting_user.lower()]

    def secret(self, env_name: str | None) -> str | None:
        """Read a secret from the environment variable named ``env_name``."""
        return os.environ.get(env_name) if env_name else None


def find_config(explicit: Path | None = None) -> Path | None:
    """The config file: ``--config``, then ``$ALERTPILOT_CONFIG``, then ``./alertpilot.yaml``."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"--config: no such file {explicit}")
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}: no such file {path}")
        return path
    local = Path.cwd() / CONFIG_NAME
    return local if local.is_file() else None


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Load settings once at an entry point; raises :class:`ConfigError` naming the field."""
    path = find_config(config)

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(yaml_file=path)

    if path is not None:
        _check_mapping(path)
    try:
        settings: Settings = _FileSettings(**overrides) if path else Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc)) from None
    except (yaml.YAMLError, OSError) as exc:  # changed on disk since it was checked
        raise ConfigError(f"{path}: {' '.join(str(exc).split())}") from None
    if path is not None:
        settings = _resolve_relative(settings, path.parent)
    return settings


def validation_message(exc: ValidationError) -> str:
    """One line naming the field of the first error (an unknown key is named as such)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "config"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    key, sep, rest = message.partition(": unknown key")
    if sep and " " not in key:  # a mapping validated by its own key list (notify.smtp, mcp_servers.NAME)
        return f"{where}.{key}: unknown key{rest}"
    return f"{where}: {message}"


def _check_mapping(path: Path) -> None:
    """The file must be readable YAML whose top level is a mapping of settings."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {' '.join(str(exc).split())}") from None
    if document is not None and not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")


def _resolve_relative(settings: Settings, base: Path) -> Settings:
    """Paths in a config file are relative to the file, not to the working directory."""
    files = [p if p.is_absolute() else base / p for p in settings.logs.files]
    world = settings.world
    if world is not None and not world.is_absolute():
        world = base / world
    settings.logs.files = files
    settings.world = world
    return settings


def secret_env_names(value: Any) -> set[str]:
    """Every environment-variable name a settings value names in an ``*_env`` field, at any depth.

    The one walk both redactors use: logs (server/redact.py) and what a model sees
    (agents/llm_redact.py) mask the values of exactly these variables.
    """
    names: set[str] = set()
    if isinstance(value, BaseModel):
        items: Any = ((name, getattr(value, name)) for name in type(value).model_fields)
    elif isinstance(value, dict):
        items = ((str(k), v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        return set().union(*(secret_env_names(item) for item in value)) if value else set()
    else:
        return names
    for key, item in items:
        if key.endswith("_env") and isinstance(item, str) and item:
            names.add(item)
        else:
            names |= secret_env_names(item)
    return names
