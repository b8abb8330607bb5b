"""Every repository file named in the documentation exists in the repository.

Scans the Markdown documents (README.md and every .md file under theory/,
figures/, data/ and labelavg/) and the docstrings and comments of the Python
sources (labelavg/, theory/, figures/, bench/, tests/, data/) for tokens that
look like repository paths: names of the kinds of file the repository
commits (``.md``, ``.py``, ``.npz``, ``.toml``), optionally with directories
and brace alternatives (``theory/THEORY.md``, ``../theory/THEORY.md#result-4``,
``labelavg/figures/{fig1_gram,fig6_phase_diagram}.py``). A token resolves if it names
an existing file relative to the citing file's directory or to the repository
root. Outputs (.png, .pdf, .csv, .json) are not checked: the repository
commits none, so naming one is never a claim that it is there. Code (string
literals, test fixtures' temporary files) is not scanned.
"""

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Markdown scanned in full: the root README.md and every .md file under these folders.
MARKDOWN = ("README.md", "theory", "figures", "data", "labelavg")

#: Python sources whose docstrings and comments are scanned.
PYTHON = ("labelavg", "theory", "figures", "bench", "tests", "data")

#: Cited names that are not files of this repository (full regex match), with the reason.
ALLOWED = {
    r"figures/out/.+": "figure output folder, written at run time (git-ignored)",
    r"(train_linear|util)\.py": "files of the paper authors' code (Hyeonsu-Jeong/SelfPLL), "
                                "cited by labelavg.authors, labelavg.pll and the README",
}

_EXTENSIONS = "md|py|npz|toml"
_PATH = re.compile(rf"(?<![\w./{{}},-])((?:(?:[\w.-]|\{{[\w.,-]+\}})+/)*"
                   rf"(?:[\w.-]|\{{[\w.,-]+\}})+(?<=[\w}}])\.(?:{_EXTENSIONS}))(?![\w/]|\.\w)")
_BRACES = re.compile(r"\{([^{}]*)\}")


def _markdown_files():
    files = [ROOT / "README.md"]
    for folder in MARKDOWN[1:]:
        files += sorted((ROOT / folder).rglob("*.md"))
    return files


def _python_files():
    return [p for folder in PYTHON for p in sorted((ROOT / folder).rglob("*.py"))]


def _docstrings_and_comments(path):
    """Docstrings (module, classes, functions) and comments of a Python file."""
    source = path.read_text(encoding="utf-8")
    texts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                texts.append(doc)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            texts.append(tok.string)
    return texts


def _expand(token):
    """Brace alternatives, expanded as a shell does: one path per alternative."""
    match = _BRACES.search(token)
    if match is None:
        return [token]
    head, tail = token[:match.start()], token[match.end():]
    return [path for alt in match.group(1).split(",") for path in _expand(head + alt + tail)]


def cited_paths(text):
    """Repository-path-like tokens in ``text`` (anchors and ``<repo>/`` dropped)."""
    text = text.replace("<repo>/", "")
    return [path for m in _PATH.finditer(text) for path in _expand(m.group(1))]


def _resolves(token, citing_file):
    if any(re.fullmatch(pattern, token) for pattern in ALLOWED):
        return True
    for base in (citing_file.parent, ROOT):
        if (base / token).is_file():
            return True
    return False


def _citations():
    found = []
    for path in _markdown_files():
        found += [(path, tok) for tok in cited_paths(path.read_text(encoding="utf-8"))]
    for path in _python_files():
        for text in _docstrings_and_comments(path):
            found += [(path, tok) for tok in cited_paths(text)]
    return found


def test_pattern_finds_paths_and_skips_urls():
    text = ("see theory/THEORY.md#result-4, [x](../theory/THEORY.md), `python "
            "theory/pll.py`, THEORY.md's table, https://example.org/a/b.py, "
            "``<repo>/data/x.npz``, labelavg.theorems, out/x.png, "
            "``labelavg/data/{a,b_c}_d.npz``, bench/{x,y}.py.")
    assert cited_paths(text) == ["theory/THEORY.md", "../theory/THEORY.md",
                                 "theory/pll.py", "THEORY.md", "data/x.npz",
                                 "labelavg/data/a_d.npz", "labelavg/data/b_c_d.npz",
                                 "bench/x.py", "bench/y.py"]


def test_a_missing_file_is_caught():
    assert not _resolves("theory/NO_SUCH_FILE.md", ROOT / "README.md")
    assert not _resolves("THEORY.md", ROOT / "labelavg" / "block.py")
    assert _resolves("THEORY.md", ROOT / "theory" / "README.md")
    assert _resolves("figures/out/fig1_gram.npz", ROOT / "README.md")    # allow-listed
    assert not _resolves("figures/fig1_gram.npz", ROOT / "README.md")


def test_the_scan_sees_the_theory_document():
    cited = {tok for _, tok in _citations()}
    assert "theory/THEORY.md" in cited


@pytest.mark.parametrize("group", ["markdown", "python"])
def test_every_cited_file_exists(group):
    files = set(_markdown_files() if group == "markdown" else _python_files())
    missing = sorted({f"{path.relative_to(ROOT)}: {tok}" for path, tok in _citations()
                      if path in files and not _resolves(tok, path)})
    assert not missing, "cited files missing from the repository:\n" + "\n".join(missing)
