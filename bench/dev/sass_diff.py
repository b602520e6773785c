"""Compare the SASS of two builds' catalog kernels, function by function (no GPU needed).

Usage: python bench/dev/sass_diff.py [--by-entry] OLD_BUILD_DIR NEW_BUILD_DIR
  (build directories as CMake makes them, e.g. build/dev; needs cuobjdump and nvdisasm on PATH: CUDA's,
  or the PyPI packages nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm)

Reads every object under <build>/CMakeFiles/mixgemm_core.dir/generated/kernels/, disassembles it and
hashes each kernel function's SASS. By default kernels are matched by function name (mangled name
included in the hash), so entries may be renamed. --by-entry matches the objects of the same catalog
entry instead and hashes the instructions without the function names, for a refactor that renames the
kernel templates themselves. A change that keeps a kernel's configuration must keep its md5. Prints
what differs or exists on one side only, then a summary; exits 1 if anything differs.
"""
import glob
import hashlib
import os
import re
import subprocess
import sys


def functions(obj: str, names: bool = True) -> dict:
    out = subprocess.run(["cuobjdump", "-sass", obj], capture_output=True, text=True, check=True).stdout
    chunks = [c for c in re.split(r"\n(?=\s*Function : )", out)[1:] if "Function :" in c]
    digest = {}
    for c in chunks:
        name = re.search(r"Function : (\S+)", c).group(1)
        body = c.strip() if names else "\n".join(l for l in c.strip().splitlines() if "Function :" not in l)
        digest[name] = hashlib.md5(body.encode()).hexdigest()
    return digest


def objects(build: str) -> list:
    objs = sorted(glob.glob(os.path.join(build, "CMakeFiles", "mixgemm_core.dir", "generated", "kernels", "*.cu.o")))
    if not objs:
        sys.exit(f"no catalog objects under {build}")
    return objs


def build_functions(build: str) -> dict:
    found = {}
    for obj in objects(build):
        found.update(functions(obj))
    return found


def by_entry(old_build: str, new_build: str) -> int:
    """Per catalog entry (object file name): the multiset of its kernels' instruction digests."""
    differ = same = missing = 0
    for obj in objects(old_build):
        other = obj.replace(old_build.rstrip("/"), new_build.rstrip("/"), 1)
        entry = os.path.basename(obj)[:-len(".cu.o")]
        if not os.path.exists(other):
            missing += 1
            print("old only ", entry)
            continue
        a = sorted(h for n, h in functions(obj, names=False).items() if "occupancy_probe_kernel" not in n)
        b = sorted(h for n, h in functions(other, names=False).items() if "occupancy_probe_kernel" not in n)
        if a == b:
            same += 1
        else:
            differ += 1
            print("differs  ", entry)
    print(f"{same} entries with identical instructions (names aside), {differ} differ, {missing} only in the old build")
    return 1 if differ or missing else 0


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--by-entry"]:
        if len(args) != 3:
            sys.exit(__doc__)
        return by_entry(args[1], args[2])
    if len(args) != 2:
        sys.exit(__doc__)
    old, new = build_functions(args[0]), build_functions(args[1])
    same = [n for n in old if n in new and old[n] == new[n]]
    differ = [n for n in old if n in new and old[n] != new[n]]
    for n in differ:
        print("differs  ", n)
    for n in sorted(set(old) - set(new)):
        print("old only ", n)
    for n in sorted(set(new) - set(old)):
        print("new only ", n)
    print(f"{len(same)} kernel functions identical, {len(differ)} differ, {len(set(old) - set(new))} only in the "
          f"old build, {len(set(new) - set(old))} only in the new")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
