"""Peak resident memory of the current process, as the kernel counts it."""

from pathlib import Path


def peak_rss_bytes() -> int:
    """This process's high-water resident set (VmHWM).

    ``getrusage(RUSAGE_SELF).ru_maxrss`` survives ``exec``: a child started by a large parent
    reports the parent's peak. VmHWM belongs to the new address space, so it is the child's own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM line; peak memory needs Linux")
