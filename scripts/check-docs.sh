#!/usr/bin/env bash
# Fails when the code has an outside name that docs/INTERFACES.md does not document, or a
# Package.swift target that docs/DESIGN.md's module table does not list:
#   - every meshctl command path ("meshctl var ls") and every long flag (--stale) of
#     Sources/meshctl (swift-argument-parser: `commandName:`, else the type name in
#     kebab case, as the library derives it);
#   - every HTTP route registered on the router (`router.get("/v1/...")`, .post, .put,
#     .delete, .patch, .head) in Sources/MeshAgent, written "METHOD /path" with its
#     `:parameters`;
#   - every config key ConfigLoader accepts (`ConfigLoader.keys`), as `key` and MESHD_KEY;
#   - the module table of docs/DESIGN.md ("## Modules") against Package.swift's targets,
#     both ways.
# Usage: scripts/check-docs.sh [--list]   (exit 0 and one "check-docs: ok" line, or 1 and what
# is missing; --list also prints every name found in the code)
set -euo pipefail
cd "$(dirname "$0")/.."

exec python3 - "$@" <<'PY'
import glob, os, re, sys

def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()

interfaces = read("docs/INTERFACES.md")
design = read("docs/DESIGN.md")
missing = []

def documented(text, phrase):
    """`phrase` occurs in `text`, not as the start of a longer name."""
    return re.search(re.escape(phrase) + r"(?![\w/:.-])", text) is not None

def kebab(name):
    """swift-argument-parser's conversion of a type or property name (camelCase -> camel-case)."""
    out = ""
    for i, c in enumerate(name):
        if c.isupper():
            prev = name[i - 1] if i > 0 else ""
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if i > 0 and (prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower())):
                out += "-"
            out += c.lower()
        else:
            out += c
    return out

# --- meshctl commands and flags -------------------------------------------------------
structs = []          # dicts: name, parent (index or None), text (declaration to next struct)
for path in sorted(glob.glob("Sources/meshctl/*.swift")):
    lines = read(path).split("\n")
    decls = [(i, m) for i, line in enumerate(lines)
             for m in [re.match(r"^(\s*)(?:public\s+)?struct\s+(\w+)\s*:\s*([\w\s,]+)", line)] if m]
    stack = []        # (indent, struct index)
    for k, (i, m) in enumerate(decls):
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        end = decls[k + 1][0] if k + 1 < len(decls) else len(lines)
        is_main = i > 0 and lines[i - 1].strip() == "@main"
        structs.append({"name": m.group(2), "parent": stack[-1][1] if stack else None,
                        "conforms": m.group(3), "text": "\n".join(lines[i:end]), "main": is_main})
        stack.append((indent, len(structs) - 1))

def command_name(s):
    m = re.search(r'commandName:\s*"([^"]+)"', s["text"])
    return m.group(1) if m else kebab(s["name"])

def subcommands(index):
    m = re.search(r"subcommands:\s*\[([^\]]*)\]", structs[index]["text"])
    if not m:
        return []
    found = []
    for ref in re.findall(r"([\w.]+)\.self", m.group(1)):
        ref = ref.split(".")[-1]
        nested = [j for j, s in enumerate(structs) if s["name"] == ref and s["parent"] == index]
        top = [j for j, s in enumerate(structs) if s["name"] == ref and s["parent"] is None]
        if not nested and not top:
            missing.append(f"meshctl: cannot resolve subcommand {ref} of {structs[index]['name']} (check-docs.sh needs a fix)")
            continue
        found.append((nested or top)[0])
    return found

roots = [j for j, s in enumerate(structs) if s["main"] or command_name(s) == "meshctl"]
commands = []
def walk(index, path):
    for j in subcommands(index):
        child = path + " " + command_name(structs[j])
        commands.append(child)
        walk(j, child)
if not roots:
    missing.append("meshctl: no root command found in Sources/meshctl (check-docs.sh needs a fix)")
else:
    walk(roots[0], "meshctl")

flags = set()
for s in structs:
    for m in re.finditer(r"@(Option|Flag)\((.*?)\)\s*var\s+(\w+)", s["text"], re.S):
        args, var = m.group(2), m.group(3)
        custom = re.search(r'\.customLong\("([^"]+)"\)', args)
        if custom:
            flags.add("--" + custom.group(1))
        elif "name:" not in args or re.search(r"\.long\b", args):
            flags.add("--" + kebab(var))

for c in commands:
    if not documented(interfaces, c):
        missing.append(f"docs/INTERFACES.md: meshctl command `{c}`")
for f in sorted(flags):
    if re.search(r"(?<![\w-])" + re.escape(f) + r"(?![\w-])", interfaces) is None:
        missing.append(f"docs/INTERFACES.md: meshctl flag `{f}`")

# --- HTTP routes ------------------------------------------------------------------------
routes = set()
for path in sorted(glob.glob("Sources/MeshAgent/**/*.swift", recursive=True)):
    for m in re.finditer(r'\brouter\.(get|post|put|delete|patch|head)\(\s*"([^"]+)"', read(path)):
        routes.add(f"{m.group(1).upper()} {m.group(2)}")
for r in sorted(routes):
    if not documented(interfaces, r):
        missing.append(f"docs/INTERFACES.md: HTTP route `{r}`")

# --- config keys ------------------------------------------------------------------------
loader = read("Sources/MeshAgent/Configuration/ConfigLoader.swift")
block = re.search(r"static let keys\s*:\s*\[String\s*:\s*String\]\s*=\s*\[(.*?)\n\s*\]\n", loader, re.S)
keys = sorted(set(re.findall(r'^\s*"(\w+)"\s*:', block.group(1), re.M))) if block else []
if not keys:
    missing.append("Sources/MeshAgent/Configuration/ConfigLoader.swift: no `keys` table found (check-docs.sh needs a fix)")
for k in keys:
    if f"`{k}`" not in interfaces:
        missing.append(f"docs/INTERFACES.md: config key `{k}`")
    if not documented(interfaces, "MESHD_" + k.upper()):
        missing.append(f"docs/INTERFACES.md: environment variable MESHD_{k.upper()}")

# --- modules ----------------------------------------------------------------------------
package = read("Package.swift")
targets = set(re.findall(r'\.(?:target|executableTarget|testTarget|systemLibrary|binaryTarget|plugin|macro)\(\s*name:\s*"([^"]+)"', package))
section = re.search(r"^## Modules\s*$(.*?)(?=^## )", design, re.S | re.M)
listed = set(re.findall(r"^\|\s*`([\w-]+)`\s*\|", section.group(1), re.M)) if section else set()
if not section:
    missing.append('docs/DESIGN.md: no "## Modules" section')
for t in sorted(targets - listed):
    missing.append(f"docs/DESIGN.md: module `{t}` (a target of Package.swift) is not in the module table")
for t in sorted(listed - targets):
    missing.append(f"docs/DESIGN.md: module `{t}` is in the module table but not a target of Package.swift")

if "--list" in sys.argv[1:]:
    for title, items in [("commands", commands), ("flags", sorted(flags)), ("routes", sorted(routes)),
                         ("keys", keys), ("modules", sorted(targets))]:
        print(f"{title}: " + ", ".join(items))
if missing:
    print("check-docs: the docs miss what the code has:", file=sys.stderr)
    for line in missing:
        print("  " + line, file=sys.stderr)
    sys.exit(1)
print(f"check-docs: ok ({len(commands)} commands, {len(routes)} routes, {len(keys)} keys)")
PY
