"""SVG from Graphviz DOT text, offline and without a system package: the npm package ``@viz-js/viz``
(Graphviz compiled to WebAssembly, MIT, no dependencies, pinned in package.json) run by Node, which the
CDK CLI needs anyway.

Why not the alternatives: Debian's ``graphviz`` (the ``dot`` binary) is a system package every machine
and CI image would have to install; the Python ``graphviz`` package only calls that binary; the Mermaid
CLI (``@mermaid-js/mermaid-cli``) drives a headless browser that it downloads on install, and Python
Mermaid wrappers send the diagram to a web service. ``@viz-js/viz`` is found in the ``node_modules`` of
the working directory or one above it (``npm install @viz-js/viz`` there).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PACKAGE = "@viz-js/viz"
#: The version package.json pins (what the tests ran).
VERSION = "3.31.0"

_SCRIPT = """
const { instance } = require(process.argv[1]);
let dot = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { dot += chunk; });
process.stdin.on("end", () => {
  instance().then((viz) => { process.stdout.write(viz.renderString(dot, { format: "svg" })); })
    .catch((error) => { process.stderr.write(String(error) + "\\n"); process.exit(1); });
});
"""


class SvgUnavailableError(RuntimeError):
    """SVG cannot be made here: the message says what is missing and how to get it."""


def find_viz(start: Path | None = None) -> Path | None:
    """The folder of ``@viz-js/viz`` in ``node_modules`` of ``start`` (default: the working directory)
    or of a folder above it; None when there is none."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        package = candidate / "node_modules" / "@viz-js" / "viz"
        if (package / "package.json").is_file():
            return package
    return None


def svg_renderer(start: Path | None = None) -> tuple[str, Path]:
    """``(node, package folder)`` that :func:`render_svg` runs; raises ``SvgUnavailableError`` saying what
    is missing (a command checks this before it synthesizes anything)."""
    node = shutil.which("node")
    if node is None:
        raise SvgUnavailableError("--format svg needs Node.js (node on PATH); --format mermaid needs nothing")
    package = find_viz(start)
    if package is None:
        raise SvgUnavailableError(
            f"--format svg needs the npm package {PACKAGE} (Graphviz compiled to WebAssembly, no binary "
            f"download): run 'npm install {PACKAGE}@{VERSION}' in this folder, or use --format mermaid"
        )
    return node, package


def render_svg(dot: str, *, start: Path | None = None, timeout: float = 60.0) -> str:
    """``dot`` laid out as SVG by ``@viz-js/viz``. Raises ``SvgUnavailableError`` without Node or the
    package, and when Graphviz rejects the input."""
    node, package = svg_renderer(start)
    done = subprocess.run(
        [node, "-e", _SCRIPT, str(package)], input=dot, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0 or not done.stdout.lstrip().startswith("<?xml"):
        raise SvgUnavailableError(f"{PACKAGE} could not render the diagram: {done.stderr.strip() or done.stdout[:200]}")
    return done.stdout
