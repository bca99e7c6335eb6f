"""Build docs/nayer.html, the annotated reading page, from nayer.py: notes beside the code.

    pip install -r docs/requirements.txt && python docs/build_page.py   # writes docs/nayer.html

How nayer.py is cut. A section starts at every top-level comment block (the `# ----` banners and
the comments above a definition) and at every top-level `def`/`class`; it runs to the next one.
The notes column holds the section's top-level comments and, for a definition, its docstring,
both read as Markdown with `$...$` math; the code column holds every other line, numbered as in
nayer.py, so that a function's code stays in one piece (its docstring included) for copying.
Comments inside the code stay in the code, their `$...$` typeset in place. Every section and
every def/class (methods as Class.method) has an anchor; the banners make the contents list.
KaTeX (vendored in docs/katex, no CDN) typesets the math when the page opens; the page uses
relative paths only, so it opens from a clone and serves as is from a GitHub Pages site of docs/.

The output is deterministic: the same nayer.py gives the same bytes (the test suite rebuilds it
and compares with the committed page).
"""
import ast, html, re, sys
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import lex
from pygments.lexers import PythonLexer
from pygments.token import Comment, Token

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "nayer.py"
# figures of docs/ shown in the notes of the section that defines NAME
FIGURES = {
    "Generator": ("cifar10_nayer_samples_seed0.png", "What G makes: the last synthetic batch of a "
                  "CPU run (RESULTS section 2), a row a class, airplane to truck."),
    "synthesize_round": ("lte_claim.png", "How fast a fresh G learns the class from each input "
                         "(RESULTS section 5)."),
    "distill": ("results_glance.png", "What the loop gives on the CPU recipe, beside the authors' "
                "code (RESULTS sections 3 and 4)."),
}
BANNER = re.compile(r"^# [-=]{10,} (.+)$")


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def definitions(source):
    """{line number: anchor} for every def/class (methods as Class.method), and the top-level ones'
    (first line incl. decorators, docstring's first and last line)."""
    tree, anchors, top = ast.parse(source), {}, {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            anchors[node.lineno] = node.name
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            doc = node.body[0] if ast.get_docstring(node) is not None else None
            top[first] = (node.name, doc and (doc.lineno, doc.end_lineno))
            if isinstance(node, ast.ClassDef):
                for sub in node.body:
                    if isinstance(sub, ast.FunctionDef):
                        anchors[sub.lineno] = f"{node.name}.{sub.name}"
    return anchors, top


def sections(lines, top):
    """[(notes: [(line no, text, kind)], code: [(line no, text)], name)] in source order. kind:
    'src' (a top-level comment or the module docstring: in the notes only) or 'doc' (a
    definition's docstring: shown in the notes, kept in the code)."""
    out, notes, code, name = [], [], [], None
    body, first = ast.parse("\n".join(lines)).body, 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        first = body[0].end_lineno  # the module docstring: the first section's notes
        notes = [(k + 1, lines[k], "src") for k in range(first)]
    for k in range(first, len(lines)):
        number, text = k + 1, lines[k]
        boundary = text.startswith("#") or number in top
        if boundary and code:  # a new section: a top-level comment or definition after code
            out.append((notes, code, name))
            notes, code, name = [], [], None
        if text.startswith("#") and not code:
            notes.append((number, text, "src"))
            continue
        if number in top:
            name, doc = top[number]
            if doc:
                notes += [(j, lines[j - 1], "doc") for j in range(doc[0], doc[1] + 1)]
        code.append((number, text))
    out.append((notes, code, name))
    return out


def fence_indented(text):
    """Runs of lines indented 4 or more (doctest examples, commands) as fenced code blocks."""
    out, block = [], []
    for line in text.split("\n") + [""]:
        if line.startswith("    ") or (block and not line.strip() and line != ""):
            block.append(line[4:])
            continue
        if block:
            out += ["", "```python", *block, "```", ""]
            block = []
        out.append(line)
    return "\n".join(out[:-1])


def note_markdown(notes):
    """The notes' Markdown: comment lines without '# ', docstrings without quotes and indent;
    a banner becomes a heading."""
    parts, doc = [], []
    for _, text, kind in notes:
        if text.startswith("#"):
            banner = BANNER.match(text)
            if banner:
                parts.append(f"\n## {banner.group(1)}\n")
            elif not re.match(r"^# [-=]{10,}$", text):
                parts.append(prose(text[2:] if text.startswith("# ") else text[1:]))
        else:
            doc.append(text)
    if doc:
        body = re.sub(r'^\s*r?"""', "", "\n".join(doc), count=1)
        body = body[:body.rfind('"""')]
        lines = body.split("\n")
        indent = min((len(l) - len(l.lstrip()) for l in lines[1:] if l.strip()), default=0)
        text = "\n".join(prose(l) for l in [lines[0].strip()] + [l[indent:] for l in lines[1:]])
        parts.append("\n" + fence_indented(text))
    return "\n".join(parts)


def prose(line):
    """An asterisk between two non-blanks is arithmetic (alpha*L_BN), not emphasis; code lines
    (indented 4 or more) are left alone."""
    return line if line.startswith("    ") else re.sub(r"(?<=\S)\*(?=\S)", r"\\*", line)


def highlight(code_lines, anchors, noted=()):
    """Numbered, highlighted code lines; `$...$` in comments typeset in place. Lines in `noted` (a
    docstring the notes show) stay in the page, for the source's sake, but are not displayed."""
    source = "\n".join(text for _, text in code_lines) + "\n"
    rendered = [""]
    for kind, value in lex(source, PythonLexer()):
        for k, piece in enumerate(value.split("\n")):
            if k:
                rendered.append("")
            if not piece:
                continue
            css = Token.Comment if kind in Comment else kind
            cls = "".join(c[0] for c in str(css).split(".")[1:]).lower() or "t"
            body = html.escape(piece)
            if kind in Comment:  # $...$ in a comment: typeset (the TeX stays in the source line)
                body = re.sub(r"\$([^$]+)\$", lambda m: f'<span class="math inline">{m.group(1)}'
                              f"</span>", body)
            rendered[-1] += f'<span class="{cls}">{body}</span>'
    rows = []
    for (number, _), text in zip(code_lines, rendered):
        anchor = anchors.get(number)
        ident = f' id="{anchor}"' if anchor else ""
        row = f'<span class="ln"{ident} data-n="{number}">{number}</span>{text}'
        if number in noted:  # the line's newline inside the hidden span: no blank line is left
            row = f'<span class="noted">{row}\n</span>'
        rows.append(row)
    return re.sub(r"\n</span>\n", "\n</span>", "\n".join(rows))


def build(source_text):
    lines = source_text.split("\n")
    if lines[-1] == "":
        lines = lines[:-1]
    anchors, top = definitions(source_text)
    md = MarkdownIt("commonmark").use(dollarmath_plugin, double_inline=True)
    cells, contents = [], []
    for k, (notes, code, name) in enumerate(sections(lines, top)):
        ids = [f"s{k}"]
        for _, text, kind in notes:
            banner = BANNER.match(text) if text.startswith("#") else None
            if banner:
                ids.append(slug(banner.group(1)))
                contents.append((slug(banner.group(1)), banner.group(1)))
        note_html = md.render(note_markdown(notes))
        if name in FIGURES:
            src, alt = FIGURES[name]
            note_html += f'<figure><img src="{src}" alt="{html.escape(alt)}"><figcaption>' \
                         f"{html.escape(alt)}</figcaption></figure>\n"
        raw = [(n, text) for n, text, kind in notes if kind == "src"]
        src = "\n".join(html.escape(text) for _, text in raw)
        start = raw[0][0] if raw else 0
        targets = "".join(f'<a id="{i}"></a>' for i in ids[1:])
        noted = {n for n, _, kind in notes if kind == "doc"}  # shown once: as the note
        code_html = highlight(code, anchors, noted) if code else ""
        cells.append(f'<section id="{ids[0]}"><div class="notes">{targets}<a class="pilcrow" '
                     f'href="#{ids[0]}">&para;</a>\n{note_html}<pre class="src" data-from="{start}" '
                     f'hidden>{src}</pre>'
                     f'</div>\n<div class="code"><pre>{code_html}</pre></div></section>')
    toc = "".join(f'<li><a href="#{i}">{html.escape(t)}</a></li>' for i, t in contents)
    return PAGE.format(toc=toc, cells="\n".join(cells))


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nayer.py, annotated: NAYER (CVPR 2024) beside its code</title>
<link rel="stylesheet" href="katex/katex.min.css">
<style>
:root {{ --bg: #fff; --fg: #1f2328; --muted: #656d76; --code-bg: #f6f8fa; --rule: #d0d7de;
  --c: #6e7781; --k: #cf222e; --s: #0a3069; --n: #0550ae; --f: #8250df; }}
@media (prefers-color-scheme: dark) {{ :root {{ --bg: #0d1117; --fg: #e6edf3; --muted: #8d96a0;
  --code-bg: #161b22; --rule: #30363d; --c: #8b949e; --k: #ff7b72; --s: #a5d6ff; --n: #79c0ff;
  --f: #d2a8ff; }} }}
body {{ margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }}
header {{ padding: 1rem 1.5rem; border-bottom: 1px solid var(--rule); }}
header h1 {{ font-size: 1.3rem; margin: 0 0 .3rem; }}
header p, nav {{ color: var(--muted); margin: .2rem 0; }}
nav ol {{ columns: 3; margin: .3rem 0; padding-left: 1.2rem; }}
section {{ display: grid; grid-template-columns: 40% 60%; border-bottom: 1px solid var(--rule); }}
.notes {{ padding: .4rem 1.5rem; min-width: 0; position: relative; overflow-wrap: break-word; }}
.notes pre {{ background: var(--code-bg); padding: .5rem; overflow-x: auto; font-size: 12px; }}
.notes h2 {{ font-size: 1.1rem; margin: .6rem 0 .2rem; }}
.notes figure {{ margin: .6rem 0; }} .notes img {{ max-width: 100%; }}
.notes figcaption {{ color: var(--muted); font-size: 13px; }}
.pilcrow {{ position: absolute; left: .4rem; top: .4rem; color: var(--rule);
  text-decoration: none; }}
.code {{ background: var(--code-bg); min-width: 0; overflow-x: auto; }}
.code pre {{ margin: 0; padding: .4rem .8rem; font: 12.5px/1.5 ui-monospace, Menlo, Consolas,
  monospace; }}
.noted {{ display: none; }}
.ln {{ display: inline-block; width: 3.2em; margin-right: .8em; text-align: right;
  color: var(--muted); user-select: none; }}
.c {{ color: var(--c); font-style: italic; }} .k, .ow {{ color: var(--k); }}
.ls, .lsd, .ls1, .ls2, .lsa, .lsi, .lse {{ color: var(--s); }} .lnf, .lni {{ color: var(--n); }}
.nf, .nc {{ color: var(--f); }}
.math.inline .katex {{ font-size: 1em; }}
@media (max-width: 768px) {{ section {{ grid-template-columns: 100%; }}
  nav ol {{ columns: 1; }} }}
</style>
</head>
<body>
<header>
<h1>nayer.py, annotated</h1>
<p>NAYER: Noisy Layer Data Generation for Efficient and Effective Data-free Knowledge
Distillation (Tran et al., CVPR 2024). The notes (comments and docstrings of
<a href="../nayer.py">nayer.py</a>, formulas typeset) sit beside the code they explain; the line
numbers are nayer.py's. Built by <code>python docs/build_page.py</code>.</p>
<nav>Sections: <ol>{toc}</ol></nav>
</header>
<main>
{cells}
</main>
<script src="katex/katex.min.js"></script>
<script>
for (const el of document.querySelectorAll(".math")) {{
  katex.render(el.textContent, el, {{displayMode: el.classList.contains("block"),
                                     throwOnError: false}});
}}
</script>
</body>
</html>
"""


def main():
    out = HERE / "nayer.html"
    out.write_text(build(SOURCE.read_text()))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
