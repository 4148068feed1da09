"""Which trained fields to evaluate: run folders (field.safetensors + config.yaml) and batch folders
(index.json, pipeline/batch.py), each optionally labelled LABEL=PATH; a label names the group of runs
whose R-precision is averaged together (by default a batch's folder name, or "runs" for run folders)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..pipeline.batch import INDEX
from .fields import FIELD_FILE

DEFAULT_GROUP = "runs"


class RunsError(ValueError):
    """A source folder is neither a finished run nor a batch."""


@dataclass(frozen=True)
class EvalRun:
    group: str
    prompt: str
    folder: Path


@dataclass(frozen=True)
class Skipped:
    group: str
    prompt: str
    folder: str
    reason: str


def split_label(source: str) -> tuple[str | None, Path]:
    """LABEL=PATH -> (LABEL, PATH); a plain PATH (or one whose part before '=' looks like a path) ->
    (None, PATH)."""
    label, sep, rest = source.partition("=")
    if sep and label and "/" not in label and not Path(source).exists():
        return label, Path(rest)
    return None, Path(source)


def run_prompt(folder: Path) -> str:
    config = folder / "config.yaml"
    try:
        prompt = (yaml.safe_load(config.read_text()) or {}).get("prompt")
    except (OSError, yaml.YAMLError) as err:
        raise RunsError(f"{folder}: cannot read the run's config.yaml: {err}") from err
    if not isinstance(prompt, str) or not prompt.strip():
        raise RunsError(f"{config} names no prompt")
    return prompt


def collect_runs(sources: list[str]) -> tuple[list[EvalRun], list[Skipped]]:
    """The finished runs of every source, and the batch entries skipped (failed or without a field)."""
    runs: list[EvalRun] = []
    skipped: list[Skipped] = []
    for source in sources:
        label, path = split_label(source)
        if (path / INDEX).is_file():
            group = label or path.resolve().name
            try:
                entries = json.loads((path / INDEX).read_text())["runs"]
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise RunsError(f"{path / INDEX} is not a dream3d batch index: {err}") from err
            for entry in entries:
                folder = path / entry["out"]
                if entry.get("status") != "done":
                    skipped.append(Skipped(group, entry["prompt"], str(folder), entry.get("error", "failed")))
                elif not (folder / FIELD_FILE).is_file():
                    skipped.append(Skipped(group, entry["prompt"], str(folder), f"no {FIELD_FILE}"))
                else:
                    runs.append(EvalRun(group, entry["prompt"], folder))
        elif (path / FIELD_FILE).is_file():
            runs.append(EvalRun(label or DEFAULT_GROUP, run_prompt(path), path))
        else:
            raise RunsError(f"{path} is neither a finished run folder (with {FIELD_FILE} and config.yaml) nor a "
                            f"batch folder (with {INDEX})")
    if not runs:
        raise RunsError("no finished runs to evaluate in " + ", ".join(sources))
    return runs, skipped
