"""Segment references of a tree: do they exist, and would saving the tree close a cycle
through the stored conditions of other segments?"""

from segments.tree import segment_references


def segment_reference_problems(
    references: list[tuple[str, int]], *, segment_id: int | None
) -> list[tuple[str, str]]:
    """(path, message) for each reference to a missing segment or one that leads back to
    `segment_id` (the segment being saved). One query per level of references."""
    if not references:
        return []
    from segments.models import Segment

    # The segment being saved is not expanded: reaching it means a cycle.
    graph: dict[int, set[int]] = {}
    queried: set[int] = set()
    frontier = {segment for _, segment in references}
    while frontier:
        queried |= frontier
        rows = Segment.objects.filter(pk__in=frontier).values_list("pk", "conditions")
        found = {pk: segment_references(conditions) for pk, conditions in rows}
        graph.update(found)
        refs = {ref for refs in found.values() for ref in refs}
        frontier = refs - queried - {segment_id}
    problems = []
    for path, segment in references:
        if segment not in graph:
            problems.append((path, f"Segment {segment} does not exist."))
            continue
        chain = _path_to(graph, segment, segment_id) if segment_id is not None else None
        if chain:
            through = " -> ".join(str(pk) for pk in chain)
            problems.append((path, f"Cycle: segment {through} refers back to this segment."))
    return problems


def _path_to(graph: dict[int, set[int]], start: int, target: int) -> list[int] | None:
    """Segments from `start` up to the one referring to `target`, or None."""
    stack, seen = [(start, [start])], {start}
    while stack:
        node, chain = stack.pop()
        for ref in sorted(graph.get(node, ())):
            if ref == target:
                return chain
            if ref not in seen:
                seen.add(ref)
                stack.append((ref, [*chain, ref]))
    return None
