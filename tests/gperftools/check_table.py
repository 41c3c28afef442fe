#!/usr/bin/env python3
"""docs/gperftools.md and include/gperftools/ hold against gperftools itself.

usage: check_table.py SOURCE_DIR [--list]

When gperftools' headers are installed (/usr/include/gperftools/, Debian's
libgoogle-perftools-dev), every header there must exist in include/gperftools/
and every public name it declares (functions and methods, types, macros)
must be declared in heapscope's header of the same name and have a row in
that header's table of docs/gperftools.md. When gperftools' libraries are
installed (google-perftools), every environment variable they read (their
string tables) must have a row in the variables table, and every variable
the table says heapscope applies, maps or ignores must be one the runtime
reads (core/base/settings.def).
--list prints what was found in gperftools, for writing the table."""
import glob
import os
import re
import subprocess
import sys

SRC = sys.argv[1]
LIST = "--list" in sys.argv
REAL = os.environ.get("HEAPSCOPE_GPERFTOOLS_INCLUDE", "/usr/include/gperftools")
LIBS = ["/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", "/usr/lib/x86_64-linux-gnu/libtcmalloc_debug.so.4",
        "/usr/lib/x86_64-linux-gnu/libprofiler.so.0"]
KEYWORDS = {"if", "while", "for", "return", "sizeof", "switch", "operator", "defined", "static_cast",
            "reinterpret_cast", "const_cast", "__attribute__", "decltype", "noexcept", "throw"}

if not os.path.isdir(REAL):
    print("HEAPSCOPE-TEST-SKIPPED: gperftools' headers are not installed "
          "(scripts/install-deps.sh --test installs libgoogle-perftools-dev)")
    sys.exit(0)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse(path):
    """The public API a header declares: {name: kind}, names qualified with
    their class (Class::Method), kinds function/type/macro/constant."""
    text = strip_comments(open(path).read())
    api = {}
    guard = None
    for m in re.finditer(r"^\s*#\s*(ifndef|define)\s+(\w+)(\(?)", text, re.M):
        kind, name, paren = m.groups()
        if kind == "ifndef" and guard is None:
            guard = name
        elif kind == "define" and name != guard and not name.startswith(("PERFTOOLS_", "_")):
            api[name] = "macro"
    text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    tokens = re.findall(r"[A-Za-z_]\w*|::|[{}();:,=<>*&~\[\]]|\S", text)
    # scope: (kind, name, public)
    stack = [("top", "", True)]
    stmt = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        kind, cname, public = stack[-1]
        if t in ("public", "private", "protected") and i + 1 < len(tokens) and tokens[i + 1] == ":" \
                and kind == "class":
            stack[-1] = (kind, cname, t == "public")
            stmt = []
            i += 2
            continue
        if t == "{":
            head = drop_template(stmt)
            stmt = []
            depth_skip = False
            if "(" in head and not ("class" in head[:head.index("(")] or "struct" in head[:head.index("(")]):
                # a function body (or an initializer): record, then skip it
                record_decl(api, head, stack)
                depth_skip = True
            elif head and head[0] == "namespace":
                stack.append(("namespace", head[1] if len(head) > 1 else "", True))
            elif head and head[0] == "extern":
                stack.append(("extern", "", True))
            elif any(k in head for k in ("class", "struct", "union")) and "=" not in head:
                k = next(k for k in ("class", "struct", "union") if k in head)
                name = [x for x in head[head.index(k) + 1:] if re.match(r"\w+$", x)
                        and x != "PERFTOOLS_DLL_DECL"]
                name = name[0] if name else ""
                if public and kind != "function":
                    api[qualify(stack, name)] = "type"
                stack.append(("class", qualify(stack, name), k != "class"))
            elif head and head[0] in ("enum", "typedef") and "enum" in head:
                name = [x for x in head[head.index("enum") + 1:] if re.match(r"\w+$", x)]
                if name and public:
                    api[qualify(stack, name[0])] = "type"
                stack.append(("enum", "", public))
            else:
                depth_skip = True
            if depth_skip:
                depth = 1
                i += 1
                while i < len(tokens) and depth:
                    depth += {"{": 1, "}": -1}.get(tokens[i], 0)
                    i += 1
                continue
            i += 1
            continue
        if t == "}":
            closed = stack.pop() if len(stack) > 1 else stack[-1]
            stmt = []
            # "} name;" closes a typedef'd struct/enum
            j = i + 1
            if closed[0] in ("enum", "class") and j < len(tokens) and re.match(r"\w+$", tokens[j]) \
                    and j + 1 < len(tokens) and tokens[j + 1] == ";":
                if stack[-1][2]:
                    api[qualify(stack, tokens[j])] = "type"
                i = j + 2
                continue
            i += 1
            continue
        if t == ";":
            if stmt and stack[-1][2] and stack[-1][0] != "enum":
                record_decl(api, stmt, stack)
            stmt = []
            i += 1
            continue
        if stack[-1][0] == "enum":
            if re.match(r"\w+$", t) and (not stmt or stmt[-1] == ",") and stack[-1][2]:
                api[qualify(stack[:-1], t)] = "constant"
            stmt.append(t)
            i += 1
            continue
        stmt.append(t)
        i += 1
    return api


def qualify(stack, name):
    cls = [s[1] for s in stack if s[0] == "class" and s[1]]
    return "::".join(([cls[-1]] if cls else []) + [name]) if name else name


def drop_template(stmt):
    """template <...> before a declaration: the parameter list goes."""
    if stmt and stmt[0] == "template":
        depth = 0
        for j in range(1, len(stmt)):
            depth += {"<": 1, ">": -1}.get(stmt[j], 0)
            if depth == 0:
                return stmt[j + 1:]
    return stmt


def record_decl(api, stmt, stack):
    kind, cname, public = stack[-1]
    stmt = drop_template(stmt)
    if not stmt:
        return
    friend = stmt[0] == "friend"
    if friend:
        stmt = stmt[1:]
    if stmt[0] == "typedef":
        fp = re.search(r"\(\s*\*?\s*(\w+)\s*\)\s*\(", " ".join(stmt))
        name = fp.group(1) if fp else [x for x in stmt if re.match(r"\w+$", x)][-1]
        if public:
            api[qualify(stack, name)] = "type"
        return
    if "(" not in stmt:
        names = [x for x in stmt[:stmt.index("=")] if re.match(r"\w+$", x)] if "=" in stmt else []
        if names and public and kind != "class" and "const" in stmt:
            api[qualify(stack, names[-1])] = "constant"
        return
    p = stmt.index("(")
    if p + 1 < len(stmt) and stmt[p + 1] == "*":
        return  # a function pointer (a member or variable), not a function
    name = stmt[p - 1] if p > 0 else ""
    if p >= 2 and stmt[p - 2] == "~":
        name = "~" + name
    if not re.match(r"~?\w+$", name) or name in KEYWORDS or "operator" in stmt[:p]:
        return
    if friend:
        if name.startswith("HeapLeakChecker_"):
            api[name] = "function"
        return
    if public:
        api[qualify(stack, name)] = "function"


def doc_tables(doc):
    """{header: set(names)} from '### `header.h`' sections, and the
    variables table {name: status}."""
    headers, variables = {}, {}
    section = None
    for line in doc.splitlines():
        m = re.match(r"^#+\s+`([\w-]+\.h)`", line)
        if m:
            section = m.group(1)
            headers.setdefault(section, set())
            continue
        if re.match(r"^#+\s+Environment variables", line):
            section = "ENV"
            continue
        if line.startswith("#"):
            section = None
            continue
        if not line.startswith("| `") or not section:
            continue
        cells = [c.strip() for c in line.split("|")[1:-1]]
        names = re.findall(r"`([^`]+)`", cells[0])
        if section == "ENV":
            for n in names:
                variables[n] = cells[1].split()[0] if len(cells) > 1 and cells[1] else ""
        else:
            for n in names:
                headers[section].add(re.sub(r"\(.*\)$", "", n))
    return headers, variables


def words(path):
    return set(re.findall(r"~?\w+", strip_comments(open(path).read())))


doc = open(os.path.join(SRC, "docs", "gperftools.md")).read()
doc_headers, doc_vars = doc_tables(doc)
mine_dir = os.path.join(SRC, "include", "gperftools")
errors = []
total = 0
for real in sorted(glob.glob(os.path.join(REAL, "*.h"))):
    h = os.path.basename(real)
    api = parse(real)
    if LIST:
        print(f"== {h}")
        for n, k in sorted(api.items()):
            print(f"  {k:9} {n}")
    mine = os.path.join(mine_dir, h)
    if not os.path.exists(mine):
        errors.append(f"{h}: gperftools has it, include/gperftools/ does not")
        continue
    have = words(mine)
    documented = doc_headers.get(h)
    if documented is None:
        errors.append(f"{h}: no '### `{h}`' table in docs/gperftools.md")
        documented = set()
    for name in sorted(api):
        total += 1
        bare = name.split("::")[-1]
        if bare not in have:
            errors.append(f"{h}: {name} is declared by gperftools, not in include/gperftools/{h}")
        if name not in documented and bare not in documented:
            errors.append(f"{h}: {name} has no row in docs/gperftools.md")
    print(f"{h}: {len(api)} names checked")

# Environment variables: what gperftools' libraries read.
settings = set(re.findall(r"^HS_SETTING\((\w+),", open(os.path.join(SRC, "core", "base",
                                                                      "settings.def")).read(), re.M))
real_vars = set()
for lib in LIBS:
    if os.path.exists(lib):
        out = subprocess.run(["strings", lib], capture_output=True, text=True).stdout
        real_vars |= set(re.findall(r"^((?:TCMALLOC|HEAP|PERFTOOLS|CPUPROF|PPROF)[A-Z_]*|MALLOCSTATS"
                                    r"|PROFILESELECTED)$", out, re.M))
# Documented (docs/*.html of 2.10) though not a string in the binaries.
real_vars |= {"TCMALLOC_SAMPLE_PARAMETER", "TCMALLOC_DEVMEM_DEVICE", "PROFILESELECTED"}
if LIST:
    print("== variables: " + " ".join(sorted(real_vars)))
for v in sorted(real_vars):
    total += 1
    if v not in doc_vars:
        errors.append(f"variable {v}: read by gperftools, no row in docs/gperftools.md")
for v, status in sorted(doc_vars.items()):
    if status in ("implemented", "mapped", "ignored", "accepted"):
        if v not in settings:
            errors.append(f"variable {v}: docs/gperftools.md says '{status}', "
                          "but core/base/settings.def has no row (the runtime does not read it)")
    elif status != "not":
        errors.append(f"variable {v}: unknown status '{status}' in docs/gperftools.md")
print(f"{total} names and variables checked against gperftools, {len(doc_vars)} variables in the table")
for e in errors:
    print("FAIL: " + e)
print("OK" if not errors else f"{len(errors)} problem(s)")
sys.exit(1 if errors else 0)
