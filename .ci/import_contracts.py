"""A contract type for import-linter: no import cycle between any two modules of a package.

import-linter's `acyclic_siblings` finds cycles between sibling packages; it does not see a module
that imports its own package while the package imports it back (the classic `from app.api import
bp` in a blueprint's routes). This contract looks at the module graph itself: every strongly
connected component of more than one module is a cycle, reported with the imports that form it.
Loaded by `.ci/run` (PYTHONPATH=.ci lint-imports).
"""
from __future__ import annotations

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a deep package must not hit Python's recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


class AcyclicModulesContract(Contract):
    type_name = "acyclic_modules"

    root = fields.StringField()

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        root = str(self.root)
        modules = {m for m in graph.modules if m == root or m.startswith(root + ".")}
        cycles = []
        for component in strongly_connected(graph, modules):
            members = set(component)
            edges = []
            for importer in component:
                for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
                    lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                    edges.append((importer, imported, lines))
            cycles.append({"modules": component, "imports": edges})
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"Cycle between {len(cycle['modules'])} modules:", bold=True)
            for importer, imported, lines in cycle["imports"]:
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported} (l. {', '.join(map(str, lines))})")
            output.new_line()
