"""Read scale-out: one replica, two replicas behind nginx, and two replicas behind nginx's cache
(deploy/nginx.conf), all on 127.0.0.1, measured with wrk in one run.

    .venv/bin/python bench/cache_bench.py [--seconds 10] [--connections 32]

Installs Debian's nginx and wrk when they are missing (as root). Each replica is `cms serve`
(gunicorn, 2 workers x 4 threads) on its own copy of one sample repository. Three URLs: one entry
on the published branch (what front ends ask), the same at its full commit sha, and a list
page. Client, proxy and servers share the machine's cores: the figures compare, they do not
promise.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import ROOT, Server, free_port
from bench.wrk import need, wrk
from cms.storage.seed import seed_repository


def nginx_config(folder: Path, replicas: list[int], cached: int, plain: int) -> Path:
    """deploy/nginx.conf with the bench's replicas, ports and files, plus a server on
    ``plain`` that balances the same replicas without the cache."""
    text = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    upstream = "".join(f"        server 127.0.0.1:{port};\n" for port in replicas)
    text = re.sub(r"(upstream cms \{\n)(?:\s*server [^\n]*\n)+", rf"\g<1>{upstream}", text)
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{cached};")
    text = text.replace("/tmp/cms-nginx-cache", str(folder / "cache"))
    text = text.replace(
        "pid /tmp/cms-nginx.pid;", f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};"
    )
    plain_server = (
        f"    server {{\n        listen 127.0.0.1:{plain};\n        location / {{\n"
        "            proxy_pass http://cms;\n            proxy_http_version 1.1;\n"
        '            proxy_set_header Connection "";\n        }\n    }\n'
    )
    text = text.rstrip().removesuffix("}") + plain_server + "}\n"
    path = folder / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    need("nginx", "wrk")
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as temporary:
        folder = Path(temporary)
        # nginx's workers run as its own user: they must reach the cache folder.
        folder.chmod(0o755)
        (folder / "cache").mkdir(mode=0o777)
        (folder / "cache").chmod(0o777)
        servers = []
        seed_repository(ROOT / "content", folder / "site-a")
        shutil.copytree(folder / "site-a", folder / "site-b")  # a replica: the same commits
        for name in ("a", "b"):
            repo = folder / f"site-{name}"
            servers.append(Server(repo, folder / f"instance-{name}", CMS_REQUEST_LOG="false"))
        head = subprocess.run(
            ["git", "-C", str(folder / "site-a"), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        cached, plain = free_port(), free_port()
        config = nginx_config(folder, [s.port for s in servers], cached, plain)
        subprocess.run(["nginx", "-c", str(config), "-t", "-q"], check=True)
        subprocess.run(["nginx", "-c", str(config)], check=True)
        try:
            time.sleep(0.5)
            paths = {
                "one entry, published branch": "/api/v1/collections/pages/entries/accueil",
                "one entry, full sha": f"/api/v1/collections/pages/entries/accueil?ref={head}",
                "a list page": "/api/v1/collections/personnes/entries?sort=title&page_size=20",
            }
            targets = {
                "1 replica": servers[0].base,
                "2 replicas (nginx, no cache)": f"http://127.0.0.1:{plain}",
                "2 replicas behind the cache": f"http://127.0.0.1:{cached}",
            }
            with urllib.request.urlopen(
                targets["2 replicas behind the cache"] + paths["one entry, published branch"]
            ) as answer:
                print("published-branch answer:", answer.headers["Cache-Control"])
            results: dict[str, dict[str, float]] = {}
            for path_name, path in paths.items():
                for target_name, base in targets.items():
                    wrk(base + path, 2, args.connections)  # warm up
                    results.setdefault(path_name, {})[target_name] = wrk(
                        base + path, args.seconds, args.connections
                    )
            width = max(len(n) for n in paths)
            print(
                f"\n{'requests/s':<{width}}  "
                + "  ".join(f"{t:>28}" for t in targets)
                + "   cache ÷ 1 replica"
            )
            for path_name, row in results.items():
                cells = "  ".join(f"{row[t]:>28,.0f}" for t in targets)
                ratio = row["2 replicas behind the cache"] / row["1 replica"]
                print(f"{path_name:<{width}}  {cells}   x{ratio:.1f}")
        finally:
            subprocess.run(["nginx", "-c", str(config), "-s", "stop"], check=False)
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
