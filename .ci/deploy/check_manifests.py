"""Consistency checks of the rendered Kubernetes manifests that no schema can make.

Usage: check_manifests.py RENDERED.yaml SECRET_EXAMPLE.yaml ENV_EXAMPLE
  - every variable of .env.example is wired: a key of the ConfigMap or of the Secret (HOSTNAME
    excepted: Kubernetes sets it), and nothing else is;
  - every Deployment gives SIGTERM at least SHUTDOWN_GRACE_SECS + its preStop pause + 5 s
    before SIGKILL (terminationGracePeriodSeconds);
  - every container runs as non-root with a read-only root filesystem, and every long-running
    one has startup, liveness and readiness probes on /health and /health/ready.
Prints one line per problem; exits 1 when there is any.
"""

import re
import sys

import yaml

NOT_WIRED = {"HOSTNAME"}


def env_example_names(path):
    names = []
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^(?:# )?([A-Z][A-Z0-9_]+)=", line)
        if m:
            names.append(m.group(1))
    return set(names)


def main(rendered, secret_example, env_example):
    problems = []
    docs = [d for d in yaml.safe_load_all(open(rendered, encoding="utf-8")) if d]
    secrets = [d for d in yaml.safe_load_all(open(secret_example, encoding="utf-8")) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    config_keys = set(config.get("data", {}))
    secret_keys = set(next(s for s in secrets if s["metadata"]["name"] == "study-mode-api-secrets")["stringData"])
    wanted = env_example_names(env_example) - NOT_WIRED
    for name in sorted(wanted - config_keys - secret_keys):
        problems.append(f"{name} (.env.example) is neither in the ConfigMap nor in the Secret")
    for name in sorted((config_keys | secret_keys) - wanted):
        problems.append(f"{name} is wired but .env.example does not know it")
    for name in sorted(config_keys & secret_keys):
        problems.append(f"{name} is in both the ConfigMap and the Secret")

    grace = int(config["data"].get("SHUTDOWN_GRACE_SECS") or 30)
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        name = f'{doc["kind"]}/{doc["metadata"]["name"]}'
        pod = doc["spec"]["template"]["spec"]
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{name}: the pod does not set runAsNonRoot")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation", True):
                problems.append(f"{name}/{c['name']}: root filesystem writable or privilege escalation allowed")
            if doc["kind"] != "Deployment":
                continue
            pause = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            need = grace + pause + 5
            if pod.get("terminationGracePeriodSeconds", 30) < need:
                problems.append(
                    f"{name}: terminationGracePeriodSeconds < SHUTDOWN_GRACE_SECS ({grace}) + preStop ({pause}) + 5"
                )
            for probe, path in (("startupProbe", "/health"), ("livenessProbe", "/health"), ("readinessProbe", "/health/ready")):
                got = c.get(probe, {}).get("httpGet", {}).get("path")
                if got != path:
                    problems.append(f"{name}/{c['name']}: {probe} is {got!r}, not GET {path}")
    for p in problems:
        print(f"manifests: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
