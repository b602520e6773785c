"""Compare the SASS of two builds' catalog kernels, function by function (no GPU needed).

Usage: python bench/dev/sass_diff.py OLD_BUILD_DIR NEW_BUILD_DIR
  (build directories as CMake makes them, e.g. build/dev; needs cuobjdump and nvdisasm on PATH: CUDA's,
  or the PyPI packages nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm)

Reads every object under <build>/CMakeFiles/mixgemm_core.dir/generated/kernels/, disassembles it and
hashes each kernel function's SASS (its mangled name included). Kernels are matched by function name,
so entries may be renamed; a refactor that keeps a kernel's configuration must keep its md5. Prints
the functions that differ or exist on one side only, then a summary; exits 1 if any differ.
"""
import glob
import hashlib
import os
import re
import subprocess
import sys


def functions(obj: str) -> dict:
    out = subprocess.run(["cuobjdump", "-sass", obj], capture_output=True, text=True, check=True).stdout
    chunks = [c for c in re.split(r"\n(?=\s*Function : )", out)[1:] if "Function :" in c]
    return {re.search(r"Function : (\S+)", c).group(1): hashlib.md5(c.strip().encode()).hexdigest() for c in chunks}


def build_functions(build: str) -> dict:
    found = {}
    objs = sorted(glob.glob(os.path.join(build, "CMakeFiles", "mixgemm_core.dir", "generated", "kernels", "*.cu.o")))
    if not objs:
        sys.exit(f"no catalog objects under {build}")
    for obj in objs:
        found.update(functions(obj))
    return found


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    old, new = build_functions(sys.argv[1]), build_functions(sys.argv[2])
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
