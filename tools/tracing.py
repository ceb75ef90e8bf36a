"""Optional OpenTelemetry spans for graph nodes, tool calls and model calls (off by default).

Tracing is configured by the standard ``OTEL_*`` environment, at an entry point
(:func:`configure`): ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console`` or ``none``) or an
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` turns it on;
``OTEL_SDK_DISABLED=true`` keeps it off; ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` name the service. Export needs the ``otel`` extra
(``opentelemetry-sdk``, ``opentelemetry-exporter-otlp-proto-http``). Without a configured
provider the API's tracer is a no-op, so the spans below cost next to nothing.

Span names and attributes follow the OpenTelemetry GenAI conventions where they exist:
``chat {model}`` (``gen_ai.operation.name``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens``/``output_tokens``, ``gen_ai.response.finish_reasons``),
``execute_tool {name}`` (``gen_ai.tool.name``), and ``node {name}`` for a graph step;
each carries ``alertpilot.incident`` or ``alertpilot.agent`` where known.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)
TRACER_NAME = "alertpilot"


_provider: Any = None  # the provider configure() installed (None: the API's global, a no-op unless set)


def _tracer() -> Any:
    if _provider is not None:
        return _provider.get_tracer(TRACER_NAME)
    try:
        from opentelemetry import trace
    except ImportError:  # the API ships with the runtime lock; guard anyway
        return None
    return trace.get_tracer(TRACER_NAME)


def reset() -> None:
    """Forget the provider configure() installed (tests)."""
    global _provider
    _provider = None


def wanted(env: Mapping[str, str]) -> str | None:
    """The exporter the environment asks for (``otlp`` / ``console``), or None (tracing off)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter in ("none", ""):
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return "otlp" if exporter == "" and endpoint else None
    return exporter.split(",")[0].strip()


def configure(env: Mapping[str, str] | None = None, exporter: Any = None) -> bool:
    """Install a tracer provider when the environment asks for one (or ``exporter`` is given); True when on.

    Once per process is enough; a second call keeps the first provider unless ``exporter`` is given.
    """
    global _provider
    if _provider is not None and exporter is None:
        return True
    env = os.environ if env is None else env
    kind = "given" if exporter is not None else wanted(env)
    if kind is None:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        log.warning("OTEL_* asks for traces but opentelemetry-sdk is not installed (pip install 'alertpilot[otel]')")
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "alertpilot")}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif kind == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("OTLP export needs opentelemetry-exporter-otlp-proto-http (pip install 'alertpilot[otel]')")
            return False
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint etc. from OTEL_*
    else:
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported here (otlp, console or none)", kind)
        return False
    _provider = provider
    if exporter is None:
        trace.set_tracer_provider(provider)  # libraries that trace through the global see it too
    return True


@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A span around a block (a no-op span when tracing is off); yields it to add attributes."""
    tracer = _tracer()
    if tracer is None:
        yield None
        return
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer.start_as_current_span(name, attributes=clean) as current:
        yield current


def finished_span(name: str, seconds: float, attributes: Mapping[str, Any] | None = None) -> None:
    """Record a span that just ended after ``seconds`` (a graph step, timed by the runner)."""
    tracer = _tracer()
    if tracer is None:
        return
    end = time.time_ns()
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    current = tracer.start_span(name, attributes=clean, start_time=end - int(seconds * 1e9))
    current.end(end_time=end)
