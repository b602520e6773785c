"""Opcode histogram of the decode kernels in a cuobjdump -sass listing (stdin): which instructions the
inner loop spends its issue slots on. Usage: cuobjdump -sass BIN | python3 bench/dev/sass_hist.py [substr]"""
import collections
import re
import sys

want = sys.argv[1] if len(sys.argv) > 1 else "decode_kernel"
text = sys.stdin.read()
for body in re.split(r"\n\s+Function : ", text)[1:]:
    name = body.split("\n")[0]
    if want not in name:
        continue
    ops = re.findall(r"/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)", body)
    print(name[:160], "instructions:", len(ops))
    print("  ", collections.Counter(ops).most_common(30))
