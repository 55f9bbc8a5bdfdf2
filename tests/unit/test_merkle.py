"""RFC 6962 trees: the published test vectors, every leaf of every small tree, and forgeries."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from petitions.merkle import (
    EMPTY_ROOT,
    ChunkedTree,
    RootBuilder,
    Tree,
    leaf_hash,
    level_sizes,
    node_hash,
    path_positions,
    root_of,
    verify_inclusion,
)

# The leaves and roots of the Certificate Transparency reference tests (RFC 6962 test data).
VECTOR_LEAVES = [
    bytes.fromhex(data)
    for data in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
VECTOR_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
VECTOR_PATHS = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1, recursive: the oracle for the fast code."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:split]), reference_root(leaves[split:]))


def reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) straight from RFC 6962 section 2.1.1."""
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*reference_path(index, leaves[:split]), reference_root(leaves[split:])]
    return [*reference_path(index - split, leaves[split:]), reference_root(leaves[:split])]


def leaves_of(size: int) -> list[bytes]:
    return [leaf_hash(f"leaf {number}".encode()) for number in range(size)]


def test_the_reference_vectors():
    hashes = [leaf_hash(data) for data in VECTOR_LEAVES]
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert Tree([]).root == root_of([]) == EMPTY_ROOT
    for size, expected in enumerate(VECTOR_ROOTS, start=1):
        assert Tree(hashes[:size]).root.hex() == expected
        assert root_of(hashes[:size]).hex() == expected
    for (index, size), expected in VECTOR_PATHS.items():
        tree = Tree(hashes[:size])
        assert [node.hex() for node in tree.audit_path(index)] == expected
        path = [bytes.fromhex(node) for node in expected]
        assert verify_inclusion(hashes[index], index, size, path, tree.root)


@pytest.mark.parametrize("size", range(1, 71))
def test_every_leaf_of_every_small_tree_proves_and_forgeries_do_not(size):
    leaves = leaves_of(size)
    tree = Tree(leaves)
    root = tree.root
    assert root == reference_root(leaves) == root_of(leaves)
    other = leaf_hash(b"a signature that was never collected")
    bigger = Tree([*leaves, other])
    for index, leaf in enumerate(leaves):
        path = tree.audit_path(index)
        assert path == reference_path(index, leaves)
        assert tree.leaf(index) == leaf
        assert verify_inclusion(leaf, index, size, path, root)
        # A changed leaf, root, index or size, and every changed node of the path, fail.
        assert not verify_inclusion(other, index, size, path, root)
        assert not verify_inclusion(leaf, index, size, path, other)
        # The size is bound by the published root, not by the path: against the root of the
        # tree with one more leaf, the old path fails.
        assert not verify_inclusion(leaf, index, size + 1, path, bigger.root)
        if size > 1:
            assert not verify_inclusion(leaf, (index + 1) % size, size, path, root)
        for position in range(len(path)):
            forged = list(path)
            forged[position] = bytes([forged[position][0] ^ 1]) + forged[position][1:]
            assert not verify_inclusion(leaf, index, size, forged, root)
        assert not verify_inclusion(leaf, index, size, [*path, other], root)
        if path:
            assert not verify_inclusion(leaf, index, size, path[:-1], root)


@pytest.mark.parametrize("size", [1023, 1024, 1025, 4097, 100_003])
def test_large_trees_agree_with_the_streamed_root_and_prove_their_edges(size):
    leaves = leaves_of(size)
    tree = Tree(leaves)
    builder = RootBuilder()
    for leaf in leaves:
        builder.append(leaf)
    assert builder.size == tree.size == size
    assert builder.root == tree.root
    for index in {0, 1, size // 2, size - 2, size - 1}:
        path = tree.audit_path(index)
        assert len(path) <= (size - 1).bit_length()
        assert verify_inclusion(leaves[index], index, size, path, tree.root)
        assert not verify_inclusion(leaves[index], index, size, path, Tree(leaves[1:]).root)


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40), st.data())
def test_any_tree_proves_any_of_its_leaves(data_items, data):
    leaves = [leaf_hash(item) for item in data_items]
    index = data.draw(st.integers(0, len(leaves) - 1))
    tree = Tree(leaves)
    assert tree.root == reference_root(leaves)
    assert verify_inclusion(leaves[index], index, len(leaves), tree.audit_path(index), tree.root)


def test_malformed_input_is_refused():
    leaf = leaf_hash(b"x")
    with pytest.raises(ValueError, match="a hash has 32 bytes, not 31"):
        Tree([leaf[:31]])
    with pytest.raises(ValueError, match="a hash has 32 bytes, not 3"):
        RootBuilder().append(b"abc")
    with pytest.raises(IndexError, match="leaf 1 is not in a tree of 1"):
        Tree([leaf]).audit_path(1)
    assert not verify_inclusion(leaf, 0, 0, [], leaf)
    assert not verify_inclusion(leaf, -1, 1, [], leaf)
    assert not verify_inclusion(leaf[:16], 0, 1, [], leaf[:16])
    assert not verify_inclusion(leaf, 0, 2, [b"short"], leaf)
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert leaf == hashlib.sha256(b"\x00x").digest()


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 512])
def test_the_chunked_tree_hands_out_the_same_levels_and_proves_from_them(chunk_size):
    for size in [*range(0, 70), 511, 512, 513, 1025]:
        chunks: dict[int, list[tuple[int, bytes, object]]] = {}

        def emit(level, number, hashes, key, chunks=chunks):
            chunks.setdefault(level, []).append((number, hashes, key))

        tree = ChunkedTree(emit, chunk_size)
        leaves = leaves_of(size)
        for index, leaf in enumerate(leaves):
            tree.append(leaf, key=("row", index))
        whole = Tree(leaves)
        assert tree.finish() == (size, whole.root)
        levels = {level: b"".join(c[1] for c in found) for level, found in chunks.items()}
        assert [len(levels[level]) // 32 for level in sorted(levels)] == (
            level_sizes(size) if size else []
        )
        for found in chunks.values():
            assert [number for number, _, _ in found] == list(range(len(found)))
            assert all(len(hashes) <= 32 * chunk_size for _, hashes, _ in found)
        if size:
            # The first leaf of each level-0 chunk brings its key; upper chunks have none.
            assert [key for _, _, key in chunks[0]] == [
                ("row", start) for start in range(0, size, chunk_size)
            ]
            assert all(key is None for level in levels if level for _, _, key in chunks[level])
        for index in range(size):
            path = [
                levels[level][at * 32 : (at + 1) * 32] for level, at in path_positions(index, size)
            ]
            assert path == whole.audit_path(index)
    with pytest.raises(RuntimeError, match="the tree is finished"):
        tree.append(leaf_hash(b"late"))


@pytest.mark.parametrize("chunk_size", [1, 2, 4, 8, 64])
def test_a_chunks_own_tree_holds_the_path_below_the_chunks_level(chunk_size):
    """What a receipt relies on: below log2(chunk size), a leaf's audit path lies in its chunk."""
    below = chunk_size.bit_length() - 1
    for size in [*range(1, 70), 127, 128, 129, 300]:
        leaves = leaves_of(size)
        whole = Tree(leaves)
        for index in range(size):
            number = index // chunk_size
            chunk = Tree.of_joined(
                b"".join(leaves[number * chunk_size : (number + 1) * chunk_size])
            )
            for (level, at), expected in zip(
                path_positions(index, size), whole.audit_path(index), strict=True
            ):
                if level < below:
                    assert chunk.node(level, at - number * (chunk_size >> level)) == expected
                else:
                    assert whole.node(level, at) == expected


def test_a_tree_of_joined_hashes_is_the_tree_of_its_leaves_and_refuses_a_torn_hash():
    leaves = leaves_of(5)
    assert Tree.of_joined(b"".join(leaves)).root == Tree(leaves).root
    assert Tree.of_joined(b"").root == EMPTY_ROOT
    with pytest.raises(ValueError, match="joined hashes come in 32 bytes, not 33"):
        Tree.of_joined(b"".join(leaves)[:33])
    with pytest.raises(IndexError, match="no node 3 on level 1 of a tree of 5"):
        Tree(leaves).node(1, 3)
    with pytest.raises(IndexError, match="no node 0 on level 4 of a tree of 5"):
        Tree(leaves).node(4, 0)
