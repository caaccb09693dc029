"""``cdk-mlops new``: a new model folder from a template, ready for ``validate``, ``cdk synth``, its own
tests, ``dry-run`` and ``run``.

A template is a folder of files under ``model-templates/`` (shipped in the wheel as package data)
whose names end in ``.tmpl``; ``{{name}}``, ``{{source_path}}`` and ``{{schema}}`` in them are replaced
by the model's name, its folder relative to the repository root (``source.path``) and the path from the
folder to ``model.schema.json`` (the editor schema). Script-mode templates (``sklearn``, ``pytorch``)
share the files of ``model-templates/_script``, built-in XGBoost ones (``xgboost``, ``batch``) those of
``model-templates/_builtin``. The sample data (``sample_data/<channel>/<channel>.csv``, mirroring
``s3://<bucket>/<data prefix>/<channel>/``, and a batch model's ``sample_data/batch_input/``) is
generated here: a few hundred rows, seeded, so every scaffold of a template is the same.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from cdk_mlops.scaffold.sample_data import write_sample_data

#: The templates ``cdk-mlops new --template`` offers, and what each makes.
TEMPLATES: dict[str, str] = {
    "sklearn": "scikit-learn in script mode: src/train.py trains a random forest, serverless endpoints",
    "xgboost": "SageMaker's built-in XGBoost algorithm (no training script), serverless endpoints",
    "pytorch": "PyTorch in script mode: src/train.py trains a tiny logistic regression on the CPU",
    "batch": "built-in XGBoost scored in batch: no endpoint, a batch transform after the approval",
}
#: Shared files each template starts from, before its own.
_BASES = {"sklearn": ("_script",), "pytorch": ("_script",), "xgboost": ("_builtin",), "batch": ("_builtin",)}
#: The folder of the templates, inside the package (not an importable name, so setuptools ships it as data).
TEMPLATES_FOLDER = "model-templates"
SCHEMA_FILE = "model.schema.json"
SUFFIX = ".tmpl"


class ScaffoldError(ValueError):
    """The model cannot be scaffolded: the message names the name, the template or the folder and why."""


@dataclasses.dataclass(frozen=True)
class Scaffolded:
    """A model folder ``new`` wrote: where, its files (relative to it), and notes for the user."""

    folder: Path
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()


def check_name(name: str, models_dir: Path | str) -> None:
    """Raises ``ScaffoldError`` unless ``name`` is a valid model name (the rule of ``name`` in
    model.yaml) that no folder or ``model.yaml`` of ``models_dir`` uses yet."""
    from cdk_mlops.commands.preflight import model_names
    from cdk_mlops.config.model_config import MODEL_NAME_PATTERN

    if not MODEL_NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"invalid model name {name!r}: model names are 1 to 20 lowercase letters, digits or hyphens, starting "
            "with a letter (they prefix SageMaker job names, which are limited to 63 characters)"
        )
    folder = Path(models_dir) / name
    if folder.exists():
        raise ScaffoldError(f"model {name!r} already exists: {folder} is there (choose another name)")
    if name in model_names(models_dir):
        raise ScaffoldError(f"model {name!r} already exists: a model.yaml in {models_dir} declares that name")


def _template_files(template: str) -> dict[str, str]:
    """``{relative path without .tmpl: text}`` of ``template`` and its bases (its own files win)."""
    root = resources.files("cdk_mlops.scaffold") / TEMPLATES_FOLDER
    files: dict[str, str] = {}
    for part in (*_BASES[template], template):
        stack = [(root / part, "")]
        while stack:
            folder, prefix = stack.pop()
            for entry in folder.iterdir():
                relative = f"{prefix}{entry.name}"
                if entry.is_dir():
                    stack.append((entry, f"{relative}/"))
                elif entry.name.endswith(SUFFIX):
                    files[relative.removesuffix(SUFFIX)] = entry.read_text(encoding="utf-8")
    return files


def _source_path(folder: Path) -> str:
    """``source.path``: the model folder relative to the working directory (the repository root, where
    ``cdk`` runs) when it is inside it, else ``<models folder name>/<name>``."""
    try:
        return folder.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return f"{folder.parent.name}/{folder.name}"


def _schema_path(folder: Path) -> tuple[str, str | None]:
    """The path from ``folder`` to the nearest ``model.schema.json`` above it, and a note when there is
    none (then the path assumes one next to the models folder)."""
    resolved = folder.resolve()
    for parent in resolved.parents:
        if (parent / SCHEMA_FILE).is_file():
            return Path(os.path.relpath(parent / SCHEMA_FILE, resolved)).as_posix(), None
    target = resolved.parent.parent / SCHEMA_FILE
    note = f"no {SCHEMA_FILE} found above {folder}: 'cdk-mlops schema -o {target}' gives editors completion"
    return Path(os.path.relpath(target, resolved)).as_posix(), note


def scaffold(name: str, template: str, models_dir: Path | str = "models") -> Scaffolded:
    """Writes ``<models_dir>/<name>/`` from ``template`` (one of :data:`TEMPLATES`) and returns what it
    wrote. Raises ``ScaffoldError`` for an unknown template, an invalid name or one already used."""
    if template not in TEMPLATES:
        raise ScaffoldError(f"unknown template {template!r} (templates: {', '.join(TEMPLATES)})")
    check_name(name, models_dir)
    folder = Path(models_dir) / name
    schema, note = _schema_path(folder)
    values = {"{{name}}": name, "{{source_path}}": _source_path(folder), "{{schema}}": schema}
    written: list[str] = []
    folder.mkdir(parents=True)
    for relative, text in sorted(_template_files(template).items()):
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(relative)
    written.extend(write_sample_data(folder, batch=template == "batch"))
    return Scaffolded(folder, tuple(sorted(written)), (note,) if note else ())


def describe(result: Scaffolded, template: str, commands: Sequence[str] = ()) -> str:
    """What ``new`` prints: the folder, its files and what to run next."""
    name = result.folder.name
    models_dir = result.folder.parent
    lines = [f"created {result.folder} ({template}: {TEMPLATES[template]})"]
    lines += [f"  {path}" for path in result.files]
    lines += [f"note: {note}" for note in result.notes]
    option = "" if models_dir == Path("models") else f" --models-dir {models_dir}"
    context = "" if models_dir == Path("models") else f" -c models_dir={models_dir}"
    lines += [
        "next:",
        f"  cdk-mlops validate{option}",
        f"  python -m pytest {result.folder / 'tests'}",
        f"  npx cdk synth -c models={name}{context}",
        f"  cdk-mlops dry-run {name}{option}",
        f"  cdk-mlops run {name}{option}",
        *commands,
    ]
    return "\n".join(lines)
