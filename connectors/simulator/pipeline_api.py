"""The request side of pipeline runs, shared by ADF (under ARM) and Synapse (data plane).

Both services take the same RunFilterParameters body and return the same models (reference 5);
they differ in where the pipelines live, which API envelope errors use, and the resource a
failing linked service was signing in to.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.simulator import errors, messages
from connectors.simulator import pipeline_runs as runs
from connectors.simulator.http import Request, Response, json_response
from connectors.simulator.model import Pipeline
from connectors.simulator.runs import Run
from connectors.simulator.state import State


class PipelineRunsFront:
    def __init__(self, state: State, api: str, resource: str) -> None:
        self.state = state
        self.api = api
        self.resource = resource

    def _failure(self, run: Run, pipeline: Pipeline, domain: str) -> messages.Failure | None:
        return messages.failure_of(run, self.state.seed, domain, pipeline.name, self.resource)

    def query(
        self, request: Request, pipelines: Iterable[Pipeline], container: str, headers: dict[str, str]
    ) -> Response:
        query = runs.parse_query(request, container)
        selected = runs.query_pipeline_runs(pipelines, query, self.state.seed)
        chunk, token = runs.page(selected, query, self.state.paging["adf"], container)
        domain, now = request.principal.tenant.domain, query.snapshot.timestamp()
        value = [
            runs.pipeline_run(p, r, now, seed=self.state.seed, failure=self._failure(r, p, domain))
            for p, r in chunk
        ]
        body: dict[str, object] = {"value": value}
        if token is not None:
            body["continuationToken"] = token
        return json_response(200, body, headers)

    def _run(self, request: Request, container: str) -> tuple[Pipeline, Run] | Response:
        run_id = request.params["runId"]
        found = runs.find_run(
            run_id, self.state.world.pipelines_by_number, container, request.now, self.state.seed
        )
        if found is None:
            message = f"The pipeline run '{run_id}' was not found."
            return errors.not_found(self.api, message, self.state.request_id(), request.now)
        return found

    def get(self, request: Request, container: str, headers: dict[str, str]) -> Response:
        found = self._run(request, container)
        if isinstance(found, Response):
            return found
        pipeline, run = found
        failure = self._failure(run, pipeline, request.principal.tenant.domain)
        now = request.now.timestamp()
        return json_response(
            200, runs.pipeline_run(pipeline, run, now, seed=self.state.seed, failure=failure), headers
        )

    def activities(
        self, request: Request, container: str, headers: dict[str, str], pipeline_name: str | None = None
    ) -> Response:
        found = self._run(request, container)
        if isinstance(found, Response):
            return found
        pipeline, run = found
        if pipeline_name is not None and pipeline.name.lower() != pipeline_name.lower():
            message = (
                f"The pipeline run '{request.params['runId']}' does not belong to pipeline '{pipeline_name}'."
            )
            return errors.not_found(self.api, message, self.state.request_id(), request.now)
        scope = f"{container}/{request.params['runId']}".lower()
        query = runs.parse_query(request, scope)
        now = query.snapshot.timestamp()
        failure = self._failure(run, pipeline, request.principal.tenant.domain)
        records = runs.activity_runs(pipeline, run, now, seed=self.state.seed, failure=failure)
        chunk, token = runs.page(
            runs.select_activities(records, query), query, self.state.paging["adf"], scope
        )
        body: dict[str, object] = {"value": chunk}
        if token is not None:
            body["continuationToken"] = token
        return json_response(200, body, headers)
