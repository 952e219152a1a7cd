#!/usr/bin/env python3
"""The layering rule of cowvm, checked on the sources and on the built objects.

Layers, lowest first (vmm/README.md): cow/ -> vmm/mem/ -> vmm/kvm/ ->
vmm/linux/ -> vmm/state/ -> vmm/ (public entry points). A layer includes headers of its
own folder, of the layers below it and of include/ only, and calls only
itself and the layers below (undefined symbols of its objects are never
defined by a higher layer). Inside each vmm/ layer no two files call each
other in a cycle. vmm/cmd/ (the command) includes only include/ and its own
folders and calls only the public API (cowvm_*). guest/ includes only
guest/ and the ABI headers of include/ (not the host API cowvm.h). Every
source file has at most 600 lines and, outside tests/, every C function at
most 80.

usage: check_layers.py SRCDIR NM LAYER=LIB... cmd=LIB...
Exit 0 when every rule holds, 1 with one line per violation.
"""
import collections
import os
import re
import subprocess
import sys

ORDER = ["cow", "mem", "kvm", "linux", "state", "api"]
FOLDERS = {
    "cow": "cow",
    "mem": "vmm/mem",
    "kvm": "vmm/kvm",
    "linux": "vmm/linux",
    "state": "vmm/state",
    "api": "vmm",
}
# Layers whose files never call each other in a cycle (cow/'s store and
# trees own each other by design).
CYCLE_FREE = {"mem", "kvm", "linux", "state", "api"}
# Files allowed past the size limits, each with its reason (none now).
SIZE_EXCEPTIONS = set()
FILE_MAX = 600
FUNC_MAX = 80
SKIP_DIRS = {".git", ".ci"}
SOURCE_EXT = (".c", ".h", ".cc", ".S", ".py", ".sh", ".ld")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

errors = []


def fail(msg):
    errors.append(msg)


def layer_files(src, layer):
    """The C sources and headers directly in a layer's folder."""
    d = os.path.join(src, FOLDERS[layer])
    return [os.path.join(d, f) for f in sorted(os.listdir(d))
            if f.endswith((".c", ".h"))]


def tree_files(root, exts):
    """Every file under root with one of the extensions."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS
                   and not d.startswith("build")]
        out += [os.path.join(dirpath, f) for f in sorted(files)
                if f.endswith(exts)]
    return out


def headers_in(d, recursive=False):
    """Header names found in folder d (and below it when recursive)."""
    if recursive:
        return {os.path.basename(p) for p in tree_files(d, (".h",))}
    return {f for f in os.listdir(d) if f.endswith(".h")}


def check_includes(path, allowed, all_known, src, what):
    """Every quoted include of path must be found in an allowed folder."""
    text = open(path, encoding="utf-8", errors="replace").read()
    for name in INCLUDE_RE.findall(text):
        base = os.path.basename(name)
        if base in allowed:
            continue
        where = all_known.get(base, "nowhere in the tree")
        fail(f"{os.path.relpath(path, src)}: includes \"{name}\" "
             f"(from {where}): {what}")


def known_headers(src):
    """Map header name -> folder it lives in, for the messages."""
    out = {}
    for p in tree_files(src, (".h",)):
        out.setdefault(os.path.basename(p), os.path.relpath(
            os.path.dirname(p), src))
    return out


def source_rules(src):
    """The include rules of every layer, the command and the guest."""
    known = known_headers(src)
    public = headers_in(os.path.join(src, "include"))
    abi = {h for h in public if h != "cowvm.h"}
    for i, layer in enumerate(ORDER):
        allowed = set(public)
        for lower in ORDER[:i + 1]:
            allowed |= headers_in(os.path.join(src, FOLDERS[lower]))
        if layer == "cow":
            allowed = headers_in(os.path.join(src, "cow"))
        for f in layer_files(src, layer):
            check_includes(f, allowed, known, src,
                           f"{FOLDERS[layer]}/ may include only its own "
                           "headers, those of the layers below it and "
                           "include/")
    cmd = os.path.join(src, "vmm", "cmd")
    allowed = public | headers_in(cmd, recursive=True)
    for f in tree_files(cmd, (".c", ".h")):
        check_includes(f, allowed, known, src,
                       "vmm/cmd/ may include only include/ and vmm/cmd/")
    guest = os.path.join(src, "guest")
    allowed = abi | headers_in(guest, recursive=True)
    for f in tree_files(guest, (".c", ".h", ".S")):
        check_includes(f, allowed, known, src,
                       "guest/ may include only guest/ and the ABI "
                       "headers of include/")


def nm_symbols(nm, lib):
    """Per object of a static library: (defined, undefined) symbol sets."""
    out = subprocess.run([nm, "-A", lib], capture_output=True, text=True,
                         check=True).stdout
    objs = collections.defaultdict(lambda: (set(), set()))
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        obj = os.path.basename(parts[0].split(":")[1]).replace(".o", "")
        if parts[1] == "U":
            objs[obj][1].add(parts[2])
        elif parts[1] in "TDBRCVW":
            objs[obj][0].add(parts[2])
    return objs


def scc_cycles(graph):
    """The strongly connected components of more than one node."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return comps


def object_rules(nm, libs, cmd_libs):
    """Calls go down the layers; no cycle inside one; cmd calls cowvm_*."""
    objs = {layer: nm_symbols(nm, lib) for layer, lib in libs.items()}
    owner = {}
    for layer in ORDER:
        for obj, (defs, _) in objs.get(layer, {}).items():
            for s in defs:
                owner[s] = (layer, obj)
    for i, layer in enumerate(ORDER):
        graph = collections.defaultdict(set)
        for obj, (defs, undef) in objs.get(layer, {}).items():
            if layer != "api":
                for s in defs:
                    if s.startswith("cowvm_"):
                        fail(f"{FOLDERS[layer]}/{obj}: defines public "
                             f"{s}: public entry points live in vmm/")
            for s in sorted(undef):
                if s not in owner:
                    continue
                to_layer, to_obj = owner[s]
                if ORDER.index(to_layer) > i:
                    fail(f"{FOLDERS[layer]}/{obj} calls {s} of "
                         f"{FOLDERS[to_layer]}/{to_obj}: a call up the "
                         "layers")
                elif to_layer == layer and to_obj != obj:
                    graph[obj].add(to_obj)
        for comp in scc_cycles(graph) if layer in CYCLE_FREE else []:
            fail(f"{FOLDERS[layer]}/: call cycle between "
                 f"{', '.join(comp)}")
    for lib in cmd_libs:
        for obj, (_, undef) in nm_symbols(nm, lib).items():
            for s in sorted(undef):
                if s in owner and not s.startswith("cowvm_"):
                    layer, to_obj = owner[s]
                    fail(f"vmm/cmd ({obj}) calls {s} of "
                         f"{FOLDERS[layer]}/{to_obj}: the command uses "
                         "the public API only")


def function_lengths(path, src):
    """Functions of a kernel-style C file longer than FUNC_MAX lines."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    start = None
    for n, line in enumerate(lines):
        if line == "{" and n and "(" in "".join(lines[max(0, n - 4):n]):
            start = n
        elif line == "}" and start is not None:
            length = n - start + 1
            if length > FUNC_MAX:
                head = lines[start - 1].strip()
                fail(f"{os.path.relpath(path, src)}:{start}: function "
                     f"'{head[:50]}' has {length} lines (at most "
                     f"{FUNC_MAX})")
            start = None


def size_rules(src):
    """File and function lengths."""
    for p in tree_files(src, SOURCE_EXT):
        rel = os.path.relpath(p, src)
        if rel in SIZE_EXCEPTIONS:
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            n = sum(1 for _ in f)
        if n > FILE_MAX:
            fail(f"{rel}: {n} lines (at most {FILE_MAX})")
        if p.endswith((".c", ".cc")) and not rel.startswith("tests/"):
            function_lengths(p, src)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src, nm = argv[1], argv[2]
    libs, cmd_libs = {}, []
    for a in argv[3:]:
        key, _, lib = a.partition("=")
        if key == "cmd":
            cmd_libs.append(lib)
        elif key in ORDER:
            libs[key] = lib
        else:
            print(f"check_layers.py: unknown layer '{key}'", file=sys.stderr)
            return 2
    source_rules(src)
    object_rules(nm, libs, cmd_libs)
    size_rules(src)
    for e in errors:
        print(e)
    print(f"layers: {len(errors)} violation(s) in {len(libs)} layers and "
          f"{len(cmd_libs)} command libraries")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
