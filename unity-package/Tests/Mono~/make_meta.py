"""Unity .meta files for the package: a package installed by git URL is immutable, and Unity
ignores every asset there that has no .meta. GUIDs are derived from the path, so regenerating
gives the same files.

    python make_meta.py PACKAGE_DIR           # write missing .meta files
    python make_meta.py PACKAGE_DIR --check   # exit 1 listing missing or orphaned .meta files
"""

import hashlib
import sys
from pathlib import Path

TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n" + TAIL,
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n" + TAIL,
    ".md": "TextScriptImporter:\n  externalObjects: {}\n" + TAIL,
    "package.json": "PackageManifestImporter:\n  externalObjects: {}\n" + TAIL,
}
DEFAULT = "DefaultImporter:\n  externalObjects: {}\n" + TAIL


def assets(root: Path):
    """Every file and folder Unity imports: not hidden, not inside a folder ending in '~'."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(p.startswith(".") or p.endswith("~") for p in rel.parts):
            continue
        if rel.parts[:2] == ("Tests", "build") or path.suffix == ".meta":
            continue
        yield rel, path


def meta_text(rel: Path, is_dir: bool) -> str:
    guid = hashlib.md5(f"com.vasabridge.unity/{rel.as_posix()}".encode()).hexdigest()
    head = f"fileFormatVersion: 2\nguid: {guid}\n"
    if is_dir:
        return head + "folderAsset: yes\n" + DEFAULT
    return head + IMPORTERS.get(rel.name, IMPORTERS.get(rel.suffix, DEFAULT))


def main(root: str, check: bool) -> int:
    root_path = Path(root)
    expected = {}
    for rel, path in assets(root_path):
        expected[path.parent / (path.name + ".meta")] = meta_text(rel, path.is_dir())
    problems = []
    for meta, text in expected.items():
        if not meta.exists():
            problems.append(f"missing {meta.relative_to(root_path)}")
            if not check:
                meta.write_text(text)
    for meta in root_path.rglob("*.meta"):
        if meta not in expected:
            problems.append(f"orphaned {meta.relative_to(root_path)} (its asset is gone or ignored)")
    if check:
        for p in problems:
            print(p)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--check" in sys.argv[2:]))
