"""``helm template`` and ``helm lint`` for the checks, through the Helm library (helm-python-sdk).

Run with the tools venv's Python (``make deploy-tools``)::

    python deploy/tools/render_chart.py CHART [--values FILE] [--name N] [--namespace NS] [--lint]

prints the rendered manifests as one multi-document YAML stream on stdout (NOTES.txt
and empty templates left out, as ``helm template`` does), or with ``--lint`` the lint
messages, exiting 1 when Helm reports an error or a warning. Nothing contacts a cluster.
"""

from __future__ import annotations

import argparse
import sys

import yaml
from helm_python import Chart, lint
from helm_python.errors import HelmError


def main(argv: list[str] | None = None) -> int:
    """Render or lint the chart; 2 and one line on stderr when Helm refuses the values."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chart")
    parser.add_argument("--values", action="append", default=[], help="values file (repeatable, later wins)")
    parser.add_argument("--name", default="alertpilot")
    parser.add_argument("--namespace", default="alertpilot")
    parser.add_argument("--lint", action="store_true")
    args = parser.parse_args(argv)
    values: dict[str, object] = {}
    for path in args.values:
        with open(path, encoding="utf-8") as handle:
            values = _merge(values, yaml.safe_load(handle) or {})
    try:
        if args.lint:
            return _lint(args.chart, values, args.namespace)
        with Chart.load(args.chart) as chart:
            rendered = chart.render(values=values, name=args.name, namespace=args.namespace, is_install=True)
    except HelmError as exc:
        print(f"helm: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    for source in sorted(rendered):
        text = rendered[source]
        if source.endswith("NOTES.txt") or not text.strip():
            continue
        sys.stdout.write(f"---\n# Source: {source}\n{text.strip()}\n")
    return 0


SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def _lint(chart: str, values: dict[str, object], namespace: str) -> int:
    """``helm lint --strict --with-subcharts``: 1 on any warning or error."""
    report = lint(chart, values, strict=True, namespace=namespace, with_subcharts=True)
    messages = report.get("messages") or []
    for message in messages:
        print(f"[{SEVERITY.get(message.get('severity'), '?')}] {message.get('path')}: {message.get('error')}")
    for error in report.get("errors") or []:
        print(f"[ERROR] {error}")
    serious = [m for m in messages if (m.get("severity") or 0) >= 2]
    return 1 if report.get("errors") or serious else 0


def _merge(base: dict[str, object], extra: dict[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        merged[key] = _merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
    return merged


if __name__ == "__main__":
    sys.exit(main())
