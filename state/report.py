"""The incident report: ``{"promQL": [...], "content": "..."}`` with four fixed sections."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

SECTION_KEYS = ("overview", "root_cause", "impact", "solution")
HEADINGS: dict[str, dict[str, str]] = {
    "zh": {
        "overview": "【问题概述】",
        "root_cause": "【根因分析】",
        "impact": "【影响范围】",
        "solution": "【解决方案】",
    },
    "en": {
        "overview": "[Overview]",
        "root_cause": "[Root cause]",
        "impact": "[Impact]",
        "solution": "[Solution]",
    },
}


class ReportSections(BaseModel):
    """The four sections' bodies, in the report's language."""

    overview: str
    root_cause: str
    impact: str
    solution: str


class Report(BaseModel):
    """One report per incident; ``promQL`` lists the queries that showed the anomaly."""

    model_config = ConfigDict(populate_by_name=True)

    status: Literal["generating", "completed", "failed"] = "generating"
    language: Literal["zh", "en"] = "zh"
    prom_ql: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("promQL", "prom_ql"), serialization_alias="promQL"
    )
    content: str = ""
    sections: ReportSections | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    error: str = ""

    def public(self) -> dict[str, Any]:
        """The DESIGN §2 shape: ``promQL`` and ``content`` first, then the rest."""
        return self.model_dump(mode="json", by_alias=True)


def render_content(sections: ReportSections, language: Literal["zh", "en"]) -> str:
    """Join the four sections under their headings in ``language``."""
    headings = HEADINGS[language]
    return "\n".join(f"{headings[key]}{getattr(sections, key)}" for key in SECTION_KEYS)
