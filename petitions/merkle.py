"""RFC 6962 Merkle trees over SHA-256: roots, audit paths and their verification. Flask-free.

A leaf's hash is SHA-256(0x00 || data), a node's SHA-256(0x01 || left || right), and a tree of n
leaves splits at the largest power of two below n (RFC 6962, section 2.1; RFC 9162, section
2.1.1). The tree of no leaves has the hash of the empty string.

`Tree` keeps every level as one `bytes` of 32-byte hashes (a million leaves take 64 MB), so that
an audit path is a few slices. A level of odd length carries its last node up unchanged, which
gives exactly the RFC's tree: the last node of a level is the root of the rightmost, smaller
subtree, paired only once the left side has grown to its own power of two.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import Any

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return the hash of a leaf holding `data`."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the hash of the node above `left` and `right`."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _checked(hash_: bytes) -> bytes:
    if len(hash_) != HASH_SIZE:
        raise ValueError(f"a hash has {HASH_SIZE} bytes, not {len(hash_)}")
    return bytes(hash_)


class Tree:
    """The whole tree over leaf hashes given in order, for its root and any leaf's audit path."""

    def __init__(self, leaves: Iterable[bytes]) -> None:
        self._build(b"".join(_checked(leaf) for leaf in leaves))

    @classmethod
    def of_joined(cls, hashes: bytes) -> Tree:
        """Return the tree over leaf hashes given joined, as a stored chunk holds them."""
        if len(hashes) % HASH_SIZE:
            raise ValueError(f"joined hashes come in {HASH_SIZE} bytes, not {len(hashes)}")
        tree = cls.__new__(cls)
        tree._build(bytes(hashes))
        return tree

    def _build(self, level: bytes) -> None:
        self.size = len(level) // HASH_SIZE
        self._levels = [level]
        while len(level) > HASH_SIZE:
            level = _next_level(level)
            self._levels.append(level)

    @property
    def root(self) -> bytes:
        if self.size == 0:
            return EMPTY_ROOT
        return self._levels[-1]

    def leaf(self, index: int) -> bytes:
        self._check_index(index)
        return _node(self._levels[0], index)

    def node(self, level: int, index: int) -> bytes:
        """Return the `index`th node of `level` (0: the leaves), as `ChunkedTree` numbers them."""
        found = _node(self._levels[level], index) if 0 <= level < len(self._levels) else b""
        if index < 0 or not found:
            raise IndexError(f"no node {index} on level {level} of a tree of {self.size}")
        return found

    def audit_path(self, index: int) -> list[bytes]:
        """Return the RFC 6962 audit path of leaf `index`, from the leaf's sibling upwards."""
        self._check_index(index)
        path = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling * HASH_SIZE < len(level):
                path.append(_node(level, sibling))
            index //= 2
        return path

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is not in a tree of {self.size}")


def _node(level: bytes, index: int) -> bytes:
    return level[index * HASH_SIZE : (index + 1) * HASH_SIZE]


def _next_level(level: bytes) -> bytes:
    """Hash the nodes of a level in pairs; an odd last node goes up as it is."""
    sha256 = hashlib.sha256
    view = memoryview(level)
    pairs = len(level) // (2 * HASH_SIZE)
    hashes = [
        sha256(NODE_PREFIX + view[start : start + 2 * HASH_SIZE]).digest()
        for start in range(0, pairs * 2 * HASH_SIZE, 2 * HASH_SIZE)
    ]
    if len(level) % (2 * HASH_SIZE):
        hashes.append(bytes(view[-HASH_SIZE:]))
    return b"".join(hashes)


class RootBuilder:
    """The root of leaf hashes appended one by one, in memory that grows with log n only."""

    def __init__(self) -> None:
        # Roots of perfect subtrees, largest first, with their heights: n's binary digits.
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        height, hash_ = 0, _checked(leaf)
        while self._stack and self._stack[-1][0] == height:
            hash_ = node_hash(self._stack.pop()[1], hash_)
            height += 1
        self._stack.append((height, hash_))
        self.size += 1

    @property
    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        hash_ = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            hash_ = node_hash(left, hash_)
        return hash_


def root_of(leaves: Iterable[bytes]) -> bytes:
    """Return the root of the tree over `leaves` (leaf hashes, in order)."""
    builder = RootBuilder()
    for leaf in leaves:
        builder.append(leaf)
    return builder.root


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Tell whether `path` proves leaf hash `leaf` at `index` in the tree of `size` with `root`.

    The algorithm of RFC 9162, section 2.1.3.2; any malformed input is simply not a proof.
    """
    if not 0 <= index < size or len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    if any(len(node) != HASH_SIZE for node in path):
        return False
    fn, sn, hash_ = index, size - 1, leaf
    for node in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            hash_ = node_hash(node, hash_)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            hash_ = node_hash(hash_, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(hash_, root)


def level_sizes(size: int) -> list[int]:
    """Return the number of nodes on each level of a tree of `size` leaves, leaves first."""
    sizes = [size]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def path_positions(index: int, size: int) -> list[tuple[int, int]]:
    """Return (level, position) of each node of leaf `index`'s audit path, from the bottom up.

    With the nodes stored by level (`ChunkedTree`), these are the only ones a proof reads.
    """
    if not 0 <= index < size:
        raise IndexError(f"leaf {index} is not in a tree of {size}")
    positions = []
    for level, count in enumerate(level_sizes(size)[:-1]):
        if index ^ 1 < count:
            positions.append((level, index ^ 1))
        index //= 2
    return positions


Emit = Callable[[int, int, bytes, Any], None]


class ChunkedTree:
    """Build the tree as leaves arrive and hand out every level's nodes in chunks, as they fill.

    `emit(level, number, hashes, key)` receives the `number`th chunk of `level`: up to
    `chunk_size` hashes of 32 bytes, joined. `key` is what was appended with the chunk's first
    leaf (for level 0; None above). Memory stays at a few chunks per level however many leaves
    there are. `finish()` hands out the last, partial chunks and returns (size, root).
    """

    def __init__(self, emit: Emit, chunk_size: int = 512) -> None:
        if chunk_size < 1:
            raise ValueError("a chunk holds at least one hash")
        self._emit, self._chunk_size = emit, chunk_size
        self._buffers: list[list[bytes]] = []
        self._keys: list[Any] = []
        self._chunks: list[int] = []
        self._waiting: list[bytes | None] = []
        self._counts: list[int] = []
        self._finished = False

    def append(self, leaf: bytes, key: Any = None) -> None:
        if self._finished:
            raise RuntimeError("the tree is finished")
        self._add(0, _checked(leaf), key)

    def _add(self, level: int, hash_: bytes, key: Any = None) -> None:
        if level == len(self._buffers):
            self._buffers.append([])
            self._keys.append(None)
            self._chunks.append(0)
            self._waiting.append(None)
            self._counts.append(0)
        buffer = self._buffers[level]
        if not buffer:
            self._keys[level] = key
        buffer.append(hash_)
        self._counts[level] += 1
        if len(buffer) == self._chunk_size:
            self._flush(level)
        left = self._waiting[level]
        if left is None:
            self._waiting[level] = hash_
        else:
            self._waiting[level] = None
            self._add(level + 1, node_hash(left, hash_))

    def _flush(self, level: int) -> None:
        buffer = self._buffers[level]
        if buffer:
            self._emit(level, self._chunks[level], b"".join(buffer), self._keys[level])
            self._chunks[level] += 1
            buffer.clear()

    def finish(self) -> tuple[int, bytes]:
        """Carry the odd last nodes up, hand out what is left and return (size, root)."""
        if self._finished:
            raise RuntimeError("the tree is finished")
        self._finished = True
        if not self._counts:
            return 0, EMPTY_ROOT
        level = 0
        while self._counts[level] > 1 or level + 1 < len(self._counts):
            waiting = self._waiting[level]
            if waiting is not None:
                # The last node of an odd level is the next level's last node, as it is.
                self._waiting[level] = None
                self._add(level + 1, waiting)
            self._flush(level)
            level += 1
        self._flush(level)
        return self._counts[0], self._waiting[level]
