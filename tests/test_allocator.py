"""glibc's malloc keeps freed planner-sized blocks on the heap once tuned."""

import ctypes
import sys

import pytest

from train_robots.common.allocator import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_large_blocks_come_from_the_heap_after_tuning():
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.sbrk.restype = ctypes.c_void_p
    assert keep_freed_memory()
    # a 64 MiB block (under the raised threshold) is carved from the heap: the program break moves past it
    block = libc.malloc(64 << 20)  # above glibc's adaptive limit
    assert block is not None and block < libc.sbrk(0)
    libc.free(ctypes.c_void_p(block))
