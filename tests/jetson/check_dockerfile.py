#!/usr/bin/env python3
"""Checks Dockerfiles where Docker is not available: syntax and layout.

    check_dockerfile.py --context REPO_ROOT DOCKERFILE...

For each file: instructions are known ones, the first (after ARGs) is FROM,
ARGs used in FROM are declared before it, every default base image has an
explicit tag, COPY --from names an earlier stage, COPY sources exist in the
build context, RUN commands pass `bash -n` (shell form), apt-get install uses
-y and --no-install-recommends and the same RUN removes /var/lib/apt/lists,
and the last stage runs as a non-root USER with an exec-form ENTRYPOINT of a
program that stage COPYs in. When hadolint is installed it runs too.
Prints "dockerfile: ok" per file; exits 1 on the first file with problems.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}


def logical_lines(text):
    """(line number, instruction, arguments) with continuations joined."""
    out, buf, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1]
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((start, word, rest.strip()))
        buf = ""
    if buf:
        out.append((start, "<unterminated>", buf))
    return out


def check(path, context):
    problems = []

    def bad(number, message):
        problems.append(f"{path}:{number}: {message}")

    with open(path, encoding="utf-8") as f:
        lines = logical_lines(f.read())
    if not lines:
        return [f"{path}: empty"]

    args = {}          # ARG defaults declared before the first FROM
    stages = []        # [{"name", "from_line", "instructions": [...]}]
    for number, word, rest in lines:
        if word != word.upper() or word not in INSTRUCTIONS:
            bad(number, f"unknown instruction '{word}'")
            continue
        if word == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
            continue
        if word == "FROM":
            tokens = rest.split()
            tokens = [t for t in tokens if not t.startswith("--platform")]
            image = tokens[0] if tokens else ""
            name = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else None
            for ref in re.findall(r"\$\{?(\w+)\}?", image):
                if ref not in args:
                    bad(number, f"FROM uses ${ref}, which no ARG before the first FROM declares")
                    continue
                default = args[ref]
                if not default:
                    bad(number, f"ARG {ref} has no default image")
                elif ":" not in default.split("/")[-1] or default.endswith(":latest"):
                    bad(number, f"default image '{default}' has no explicit tag")
            if not re.search(r"\$", image) and (":" not in image.split("/")[-1] or image.endswith(":latest")):
                if image not in [s["name"] for s in stages]:
                    bad(number, f"image '{image}' has no explicit tag")
            stages.append({"name": name, "line": number, "instructions": []})
            continue
        if not stages:
            bad(number, f"{word} before the first FROM")
            continue
        stages[-1]["instructions"].append((number, word, rest))

    if not stages:
        return problems + [f"{path}: no FROM"]

    names = []
    for stage in stages:
        for number, word, rest in stage["instructions"]:
            if word in ("COPY", "ADD"):
                tokens = shlex.split(rest)
                flags = [t for t in tokens if t.startswith("--")]
                paths = [t for t in tokens if not t.startswith("--")]
                source_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
                if len(paths) < 2:
                    bad(number, f"{word} needs a source and a destination")
                    continue
                if source_stage is not None:
                    if source_stage not in names and not source_stage.isdigit():
                        bad(number, f"COPY --from={source_stage}: no earlier stage of that name")
                else:
                    for source in paths[:-1]:
                        if source != "." and not os.path.exists(os.path.join(context, source)):
                            bad(number, f"{word} source '{source}' is not in the build context")
            if word == "RUN" and not rest.startswith("["):
                check_run(number, rest, bad)
        if stage["name"]:
            names.append(stage["name"])

    final = stages[-1]
    users = [rest for _, word, rest in final["instructions"] if word == "USER"]
    if not users:
        bad(final["line"], "the last stage sets no USER (it would run as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        bad(final["line"], "the last stage runs as root")
    entrypoints = [(n, rest) for n, word, rest in final["instructions"] if word == "ENTRYPOINT"]
    if not entrypoints:
        bad(final["line"], "the last stage has no ENTRYPOINT")
    else:
        number, rest = entrypoints[-1]
        try:
            entry = json.loads(rest)
        except json.JSONDecodeError as e:
            bad(number, f"ENTRYPOINT is not exec form (a JSON array): {e}")
        else:
            if not (isinstance(entry, list) and entry and all(isinstance(x, str) for x in entry)):
                bad(number, "ENTRYPOINT must be a JSON array of strings")
            else:
                copied = [shlex.split(r)[-1] for _, w, r in final["instructions"] if w == "COPY"]
                if entry[0] not in copied:
                    bad(number, f"ENTRYPOINT runs {entry[0]}, which the last stage does not COPY in")
    for number, word, rest in final["instructions"]:
        if word == "CMD" and rest.startswith("["):
            try:
                json.loads(rest)
            except json.JSONDecodeError as e:
                bad(number, f"CMD is not valid JSON: {e}")
    return problems


def check_run(number, command, bad):
    result = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True)
    if result.returncode != 0:
        bad(number, f"RUN is not valid shell: {result.stderr.strip()}")
    if re.search(r"\bapt-get\b[^;&|]*\binstall\b", command):
        for segment in re.split(r"&&|;", command):
            if re.search(r"\bapt-get\b.*\binstall\b", segment):
                if not re.search(r"(\s-y\b|--yes\b|--assume-yes\b)", segment):
                    bad(number, "apt-get install without -y")
                if "--no-install-recommends" not in segment:
                    bad(number, "apt-get install without --no-install-recommends")
        if "rm -rf /var/lib/apt/lists" not in command:
            bad(number, "a RUN with apt-get install must remove /var/lib/apt/lists")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--context", required=True, help="the build context (repository root)")
    parser.add_argument("dockerfiles", nargs="+")
    options = parser.parse_args()
    hadolint = shutil.which("hadolint")
    failed = False
    for path in options.dockerfiles:
        problems = check(path, options.context)
        if hadolint:
            result = subprocess.run([hadolint, path], capture_output=True, text=True)
            if result.returncode != 0:
                problems.append(f"hadolint:\n{result.stdout}{result.stderr}")
        if problems:
            failed = True
            print("\n".join(problems))
        else:
            print(f"dockerfile: ok {path}" + (" (and hadolint)" if hadolint else " (hadolint not installed)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
