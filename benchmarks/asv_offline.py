"""Make asv's published site work with no network: ``python benchmarks/asv_offline.py [.asv/html]``.

``asv publish`` writes pages that load jQuery, flot, bootstrap, stupidtable and blueimp-md5 from
public CDNs; with the network off (or on a machine that must not reach it) the site is blank. This
copies the same libraries, vendored in ``benchmarks/asv_vendor`` (MIT licences in its
LICENSES.txt), into ``SITE/vendor`` and points the pages' ``<script>`` / ``<link>`` tags at them.
Serve the folder on loopback (``asv preview``, or ``python -m http.server --bind 127.0.0.1
--directory .asv/html``): asv's pages load their data with HTTP requests, which browsers refuse for
``file://`` pages. Run it after every ``asv publish`` (docs/workflows.md).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

VENDOR = Path(__file__).resolve().parent / "asv_vendor"
# the CDN file a tag names (its last path part) -> the vendored file
FILES = {"jquery-3.3.1.min.js": "jquery-3.3.1.min.js", "jquery.flot.min.js": "jquery.flot.js",
         "jquery.flot.time.min.js": "jquery.flot.time.js", "jquery.flot.selection.min.js": "jquery.flot.selection.js",
         "jquery.flot.categories.min.js": "jquery.flot.categories.js",
         "jquery.flot.orderBars.js": "jquery.flot.orderBars.js", "stupidtable.min.js": "stupidtable.min.js",
         "md5.min.js": "md5.min.js", "bootstrap.min.js": "bootstrap.min.js", "bootstrap.min.css": "bootstrap.min.css"}
TAG = re.compile(r"""<(script|link)\b[^>]*?\b(src|href)=["'](https?://[^"']+)["'][^>]*>""")


def localize(html: str) -> tuple[str, list[str]]:
    """The page with every CDN script / stylesheet tag pointing at ``vendor/``, and the URLs it could
    not replace (a newer asv naming another library: those still need the network)."""
    left: list[str] = []

    def swap(m: re.Match) -> str:
        kind, url = m.group(1), m.group(3)
        name = url.rsplit("/", 1)[-1]
        if name not in FILES:
            if kind == "script" or 'rel="stylesheet"' in m.group(0):
                left.append(url)
            return m.group(0)
        local = f"vendor/{FILES[name]}"
        if kind == "script":
            return f'<script src="{local}" onerror="js_load_failure()">'
        return f'<link rel="stylesheet" href="{local}">'

    return TAG.sub(swap, html), left


def make_offline(site: Path) -> list[str]:
    """Vendor the libraries into ``site`` and rewrite its pages; returns the URLs left (none today)."""
    if not (site / "index.html").is_file():
        raise SystemExit(f"asv_offline: {site} has no index.html: run `asv publish` first")
    shutil.copytree(VENDOR, site / "vendor", dirs_exist_ok=True)
    left: list[str] = []
    for page in site.glob("*.html"):
        text, missed = localize(page.read_text(encoding="utf-8"))
        page.write_text(text, encoding="utf-8")
        left += missed
    return left


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", nargs="?", default=".asv/html", help="asv's published site (default .asv/html)")
    args = ap.parse_args(argv)
    left = make_offline(Path(args.site))
    for url in left:
        print(f"asv_offline: still loaded from the network: {url}", file=sys.stderr)
    print(f"{args.site}: asv's libraries served from {args.site}/vendor" + (" (some left: see above)" if left else ""))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
