"""Regenerate the checked-in Python code from protos/ with `buf generate`.

    python protos/generate.py           # write into python_client/
    python protos/generate.py --check   # fail if the checked-in code is stale

Run it with the project's virtual environment active or through its python: the
generators (grpcio-tools, mypy-protobuf) and buf come from the dev dependencies, pinned
so that the output is reproducible byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GENERATED = ROOT / "python_client" / "quadro" / "v1"
# Hand-written files that live beside the generated ones.
KEEP = {"__init__.py"}


def generate(into: Path) -> None:
    """Generate into `into` (the folder that receives `quadro/v1/...`)."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    template = (PROTOS / "buf.gen.yaml").read_text()
    # Same template, with the output folder and the interpreter of this environment.
    template = template.replace("../python_client", str(into)).replace(
        "[python,", f"[{sys.executable},"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(template)
    try:
        subprocess.run(
            [str(bin_dir / "buf"), "generate", "--template", handle.name],
            cwd=PROTOS,
            env=env,
            check=True,
            stderr=subprocess.PIPE,
        )
    finally:
        os.unlink(handle.name)


def generated_files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in folder.iterdir() if p.is_file() and p.name not in KEEP}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = generated_files(Path(tmp) / "quadro" / "v1")
        current = generated_files(GENERATED) if GENERATED.exists() else {}
        stale = sorted(
            name
            for name in fresh.keys() | current.keys()
            if name not in fresh
            or name not in current
            or not filecmp.cmp(fresh[name], current[name], shallow=False)
        )
        if args.check:
            if stale:
                print("generated code is stale: " + ", ".join(stale), file=sys.stderr)
                print("run: python protos/generate.py", file=sys.stderr)
                return 1
            print("generated code is up to date")
            return 0
        GENERATED.mkdir(parents=True, exist_ok=True)
        for name in current.keys() - fresh.keys():
            current[name].unlink()
        for name, path in fresh.items():
            shutil.copyfile(path, GENERATED / name)
        print(f"wrote {len(fresh)} files into {GENERATED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
