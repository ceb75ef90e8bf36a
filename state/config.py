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
from state.subject import Subject, probed_names

CONFIG_ENV = "ALERTPILOT_CONFIG"
CONFIG_NAME = "alertpilot.yaml"
Role = Literal["viewer", "approver", "admin"]
WebhookSource = Literal["alertmanager", "tencent", "cls", "generic"]


class ConfigError(ValueError):
    """The configuration file or environment is invalid; the message names the field."""


class DatabaseConfig(BaseModel):
    """Where checkpoints, incidents, reports, audit and the queue live."""

    url: str | None = Field(default=None, description="None = SQLite in $ALERTPILOT_HOME.")


class LLMConfig(BaseModel):
    """The brain: ``offline`` (deterministic playbooks) or ``openai:<model>``."""

    model: str = "offline"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_retries: int = 2


class PrometheusConfig(BaseModel):
    """A Prometheus HTTP API to read metrics from."""

    url: str | None = None
    timeout_s: float = 10.0


class ClsTopics(BaseModel):
    """One CLS topic per log kind."""

    business: str | None = None
    event: str | None = None
    audit: str | None = None


class ClsConfig(BaseModel):
    """Tencent CLS access."""

    region: str = "ap-guangzhou"
    endpoint: str | None = Field(default=None, description="host:port override (tests).")
    topics: ClsTopics = Field(default_factory=ClsTopics)
    secret_id_env: str = "TENCENTCLOUD_SECRET_ID"
    secret_key_env: str = "TENCENTCLOUD_SECRET_KEY"


class CosConfig(BaseModel):
    """COS bucket holding shipped log archives."""

    bucket: str | None = None
    region: str = "ap-guangzhou"
    prefix: str = ""
    endpoint: str | None = None
    secret_id_env: str = "TENCENTCLOUD_SECRET_ID"
    secret_key_env: str = "TENCENTCLOUD_SECRET_KEY"


class LogsConfig(BaseModel):
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


class GithubConfig(BaseModel):
    """GitHub or GitHub Enterprise API."""

    url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"
    clones: dict[str, Path] = Field(default_factory=dict, description="OWNER/NAME → local clone read with git.")


class KubernetesConfig(BaseModel):
    """The Kubernetes API the kubernetes executor backend acts on."""

    kubeconfig: Path | None = Field(default=None, description="None = in-cluster config, else ~/.kube/config.")
    context: str | None = None
    host: str | None = Field(default=None, description="API server URL; overrides the kubeconfig (tests).")
    token_env: str | None = Field(default=None, description="Env var holding a bearer token (with host).")
    verify_ssl: bool = True
    namespace: str = "default"
    dry_run: bool = Field(default=False, description="Server-side dry run (dryRun=All): validated, not persisted.")


class CloudMonitorConfig(BaseModel):
    """Tencent Cloud Monitor (monitor API 2018-07-24), read for the signal of a Cloud Monitor metric alarm."""

    region: str = Field(default="ap-guangzhou", description="Used when an alarm names no region.")
    endpoint: str | None = Field(default=None, description="host:port override (tests).")
    secret_id_env: str = "TENCENTCLOUD_SECRET_ID"
    secret_key_env: str = "TENCENTCLOUD_SECRET_KEY"


class TkeConfig(BaseModel):
    """The TKE cluster whose Helm releases the tke executor backend rolls back."""

    region: str = "ap-guangzhou"
    cluster_id: str | None = None
    cluster_type: str = "tke"
    namespace: str = "default"
    endpoint: str | None = Field(default=None, description="host:port override (tests).")
    secret_id_env: str = "TENCENTCLOUD_SECRET_ID"
    secret_key_env: str = "TENCENTCLOUD_SECRET_KEY"


class ExecutorConfig(BaseModel):
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


class ServiceConfig(BaseModel):
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


class UserConfig(BaseModel):
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


class NotifyConfig(BaseModel):
    """Push channels, follow-ups and delivery retries; every secret (and secret-bearing URL) by env-var name."""

    smtp: dict[str, Any] = Field(default_factory=dict)
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


class AssistantConfig(BaseModel):
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


class AuthConfig(BaseModel):
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


class ServerConfig(BaseModel):
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


class BriefingConfig(BaseModel):
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
    mcp_servers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    assistant: AssistantConfig = Field(default_factory=AssistantConfig)
    world: Path | None = Field(default=None, description="Scenario world for demo/eval runs.")

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
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"{where}: {first['msg']}") from None
    except (yaml.YAMLError, OSError) as exc:  # changed on disk since it was checked
        raise ConfigError(f"{path}: {' '.join(str(exc).split())}") from None
    if path is not None:
        settings = _resolve_relative(settings, path.parent)
    return settings


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
