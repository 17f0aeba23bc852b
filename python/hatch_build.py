"""A hatchling build hook: no wheel without the generated message classes."""

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class GeneratedClassesPresent(BuildHookInterface):
    """Stops the build when snakepit_worker/_proto/worker_pb2.py is absent."""

    def initialize(self, version, build_data):
        generated = Path(self.root) / "snakepit_worker" / "_proto" / "worker_pb2.py"
        if not generated.is_file():
            raise RuntimeError(
                "%s is missing: the wheel would not serve. Generate it first with "
                "bash build-python.sh PROTOC %s (PROTOC: protoc 3.21.x, e.g. python/target/protoc/"
                "protoc after mvn -pl python generate-resources), or take the wheel the Maven "
                "build makes in python/target/classes/io/snakepit/python/" % (generated, self.root))
