"""Schema of the Rollout kind: Argo Rollouts' ``Rollout`` spec and status under ``rollouts.dev/v1alpha1``.

Supported: canary (replica- or traffic-weighted via nginx, Istio, Gateway API or ALB) and blue-green, analysis at
steps, in the background and around promotion, workloadRef, antiAffinity. Refused by name: SMI, App Mesh, Ambassador,
Traefik, APISIX and plugin routers other than Gateway API (and the plugin's GRPC/TCP/TLS routes and route selectors),
experiment and plugin steps, ping-pong, replicaProgressThreshold, the DestinationRule's
additionalSubsetNames, and the status fields only those features (or AWS target-group verification) write.
"""

from __future__ import annotations

from workflows.model.durations import DURATION_PATTERN

from .analysis import rollout_analysis
from .common import conditions, crd, labels_and_annotations, message, observed_generation, printer_column
from .schema import (
    NAME_MAX,
    PERCENT_OR_COUNT_PATTERN,
    SHORT_NAME_MAX,
    Schema,
    array,
    boolean,
    int_or_string,
    integer,
    map_of,
    name,
    needs_exactly_one,
    obj,
    open_object,
    rule,
    string,
    string_map,
    timestamp,
    unbounded_array,
    unsupported_fields,
)

STEPS_MAX = 128
MANAGED_ROUTES_MAX = 32
GATEWAY_API_PLUGIN = "argoproj-labs/gatewayAPI"

STEP_ACTIONS = ("setWeight", "pause", "setCanaryScale", "analysis", "setHeaderRoute", "setMirrorRoute")
UNSUPPORTED_STEP_ACTIONS = {"experiment": "the experiment canary step", "plugin": "step plugins"}
# Fields of Argo's gatewayAPI plugin configuration we do not implement (HTTPRoutes only, named explicitly).
UNSUPPORTED_GATEWAY_FIELDS: dict[str, str | tuple[str, str]] = {
    "grpcRoute": ("GRPCRoute traffic routing (gatewayAPI grpcRoute)", "string"),
    "grpcRoutes": ("GRPCRoute traffic routing (gatewayAPI grpcRoutes)", "objects"),
    "tcpRoute": ("TCPRoute traffic routing (gatewayAPI tcpRoute)", "string"),
    "tcpRoutes": ("TCPRoute traffic routing (gatewayAPI tcpRoutes)", "objects"),
    "tlsRoute": ("TLSRoute traffic routing (gatewayAPI tlsRoute)", "string"),
    "tlsRoutes": ("TLSRoute traffic routing (gatewayAPI tlsRoutes)", "objects"),
    "httpRouteSelector": "route discovery by label selector (gatewayAPI httpRouteSelector); name the httpRoutes",
    "grpcRouteSelector": "route discovery by label selector (gatewayAPI grpcRouteSelector)",
    "tcpRouteSelector": "route discovery by label selector (gatewayAPI tcpRouteSelector)",
    "tlsRouteSelector": "route discovery by label selector (gatewayAPI tlsRouteSelector)",
    "inProgressLabelKey": ("the gatewayAPI in-progress route label (inProgressLabelKey)", "string"),
    "inProgressLabelValue": ("the gatewayAPI in-progress route label (inProgressLabelValue)", "string"),
}
# The total a weight counts in without trafficRouting.maxTrafficWeight.
DEFAULT_MAX_WEIGHT = 100
# Gateway API's backendRef weight limit: the largest total every router can express.
MAX_TRAFFIC_WEIGHT_LIMIT = 1_000_000
# The largest weight of an AWS target group in an ALB forward action.
ALB_MAX_WEIGHT = 999
UNSUPPORTED_ROUTERS = {
    "smi": "SMI traffic routing",
    "appMesh": "App Mesh traffic routing",
    "ambassador": "Ambassador traffic routing",
    "traefik": "Traefik traffic routing",
    "apisix": "APISIX traffic routing",
}


def _percent(description: str) -> Schema:
    return integer(description, minimum=0, maximum=100)


def _weight(description: str) -> Schema:
    """A weight in units of ``trafficRouting.maxTrafficWeight`` (default 100); the canary's rule bounds it."""
    return integer(description, minimum=0)


def anti_affinity(strategy: str) -> Schema:
    """Argo's ``AntiAffinity``: keep an update's pods off the nodes of the stable version's pods."""
    return obj(
        f"Inject a pod anti-affinity term against the stable version's pods into the {strategy}'s new pods.",
        {
            "preferredDuringSchedulingIgnoredDuringExecution": obj(
                "A preferred term, with its scheduling weight.",
                {"weight": integer("Weight of the term, 1-100.", minimum=1, maximum=100)},
                required=["weight"],
            ),
            "requiredDuringSchedulingIgnoredDuringExecution": obj(
                "A required term: new pods never share a node with stable pods.", {}
            ),
        },
        rules=[
            rule(
                "has(self.preferredDuringSchedulingIgnoredDuringExecution)"
                " != has(self.requiredDuringSchedulingIgnoredDuringExecution)",
                "AntiAffinity must have exactly one strategy listed",
            )
        ],
    )


def _scale_down_delay_revision_limit() -> Schema:
    return integer(
        "How many old versions may wait out scaleDownDelaySeconds at once; older ones scale down at once.", minimum=0
    )


def _surge(description: str) -> Schema:
    schema = int_or_string(description, pattern=PERCENT_OR_COUNT_PATTERN, max_length=8)
    schema["minimum"] = 0
    return schema


def _string_match(description: str) -> Schema:
    return obj(
        description,
        {
            "exact": string("Exact match."),
            "prefix": string("Prefix match."),
            "regex": string("RE2 regular expression match."),
        },
        rules=[needs_exactly_one("a match", ["exact", "prefix", "regex"])],
    )


def _route_name(description: str) -> Schema:
    return name(description, max_length=SHORT_NAME_MAX)


def _pause() -> Schema:
    return obj(
        "Pause the rollout; without duration until promoted.",
        {
            "duration": int_or_string(
                "Seconds as a number, or a duration string such as 30s, 5m, 1h.",
                pattern=DURATION_PATTERN,
                max_length=64,
            )
        },
    )


def _set_canary_scale() -> Schema:
    return obj(
        "Scale the canary independently of its traffic weight.",
        {
            "weight": _weight("Canary replicas as a share of spec.replicas, in units of maxTrafficWeight."),
            "replicas": integer("Absolute canary replicas.", minimum=0),
            "matchTrafficWeight": boolean("Go back to scaling the canary with its traffic weight."),
        },
        rules=[needs_exactly_one("setCanaryScale", ["weight", "replicas", "matchTrafficWeight"])],
    )


def _set_header_route() -> Schema:
    return obj(
        "Send requests with matching headers to the canary (a managed route).",
        {
            "name": _route_name("Managed route name (listed in trafficRouting.managedRoutes)."),
            "match": array(
                obj(
                    "A header to match.",
                    {
                        "headerName": string("Header name.", min_length=1, max_length=256),
                        "headerValue": _string_match("How to match the header value."),
                    },
                    required=["headerName", "headerValue"],
                ),
                "Header matches; none removes the route.",
            ),
        },
        required=["name"],
    )


def _set_mirror_route() -> Schema:
    route_match = obj(
        "A request match; all given parts must match.",
        {
            "method": _string_match("HTTP method match."),
            "path": _string_match("Path match."),
            "headers": map_of(_string_match("Header value match."), "Header matches by header name."),
        },
    )
    return obj(
        "Mirror matching traffic to the canary (a managed route).",
        {
            "name": _route_name("Managed route name (listed in trafficRouting.managedRoutes)."),
            "match": array(route_match, "Requests to mirror; none removes the route."),
            "percentage": _percent("Percentage of matching traffic to mirror."),
        },
        required=["name"],
    )


def canary_step() -> Schema:
    return obj(
        "One step of the canary plan: exactly one action.",
        {
            "setWeight": _weight("Traffic (or replicas) for the canary, in units of maxTrafficWeight (default 100)."),
            "pause": _pause(),
            "setCanaryScale": _set_canary_scale(),
            "analysis": rollout_analysis("Run an AnalysisRun and wait for its result."),
            "setHeaderRoute": _set_header_route(),
            "setMirrorRoute": _set_mirror_route(),
            **unsupported_fields(UNSUPPORTED_STEP_ACTIONS),
        },
        rules=[needs_exactly_one("a canary step", [*STEP_ACTIONS, *UNSUPPORTED_STEP_ACTIONS], named=STEP_ACTIONS)],
    )


def _nginx() -> Schema:
    return obj(
        "NGINX Ingress canary annotations.",
        {
            "stableIngress": name("The Ingress that routes to the stable Service."),
            "stableIngresses": array(name("Ingress name."), "Several stable Ingresses.", min_items=1, max_items=16),
            "annotationPrefix": string("Annotation prefix of the controller (default nginx.ingress.kubernetes.io)."),
            "additionalIngressAnnotations": string_map("Extra canary annotations, e.g. canary-by-header."),
            "canaryIngressAnnotations": string_map("Annotations copied onto the generated canary Ingress."),
        },
        rules=[needs_exactly_one("nginx", ["stableIngress", "stableIngresses"])],
    )


def _alb() -> Schema:
    return obj(
        "AWS ALB Ingress: the split is written as the action annotation of the Ingress (nothing is asked of AWS).",
        {
            "ingress": name("The Ingress whose action annotation splits the traffic."),
            "ingresses": array(name("Ingress name."), "Several Ingresses.", min_items=1, max_items=16),
            "servicePort": integer("The Service port the action forwards to.", minimum=1, maximum=65535),
            "rootService": name("The backend Service the action is named after (default: the stable Service)."),
            "annotationPrefix": string("Annotation prefix of the controller (default alb.ingress.kubernetes.io)."),
            "stickinessConfig": obj(
                "Target group stickiness of the forward action.",
                {
                    "enabled": boolean("Stick clients to a target group."),
                    "durationSeconds": integer("How long, 1-604800 seconds (7 days).", fmt="int64"),
                },
                required=["enabled", "durationSeconds"],
                rules=[
                    rule(
                        "!self.enabled || (self.durationSeconds >= 1 && self.durationSeconds <= 604800)",
                        "TargetGroupStickinessConfig's duration must be between 1 and 604800 seconds (7 days)",
                        field_path=".durationSeconds",
                    )
                ],
            ),
        },
        required=["servicePort"],
        rules=[needs_exactly_one("alb", ["ingress", "ingresses"])],
    )


def _istio_virtual_service() -> Schema:
    return obj(
        "A VirtualService whose routes get the canary weights.",
        {
            "name": name("VirtualService name (NAME or NAME.NAMESPACE)."),
            "routes": array(string(max_length=NAME_MAX), "Named HTTP routes to edit."),
            "tlsRoutes": array(
                obj(
                    "A TLS route, matched by port and SNI hosts.",
                    {
                        "port": integer("Port of the route.", minimum=1, maximum=65535, fmt="int64"),
                        "sniHosts": array(string(max_length=NAME_MAX), "SNI hosts of the route."),
                    },
                ),
                "TLS routes to edit.",
            ),
            "tcpRoutes": array(
                obj(
                    "A TCP route, matched by port.",
                    {"port": integer("Port of the route.", minimum=1, maximum=65535, fmt="int64")},
                ),
                "TCP routes to edit.",
            ),
        },
        required=["name"],
    )


def _istio() -> Schema:
    return obj(
        "Istio VirtualService weights (host- or subset-level).",
        {
            "virtualService": _istio_virtual_service(),
            "virtualServices": array(_istio_virtual_service(), "Several VirtualServices.", min_items=1, max_items=16),
            "destinationRule": obj(
                "A DestinationRule whose subsets select the canary and stable pods (subset-level routing).",
                {
                    "name": name("DestinationRule name."),
                    "canarySubsetName": _route_name("Subset for the canary."),
                    "stableSubsetName": _route_name("Subset for the stable version."),
                    **unsupported_fields(
                        {"additionalSubsetNames": ("additionalSubsetNames (experiment subsets)", "strings")}
                    ),
                },
                required=["name", "canarySubsetName", "stableSubsetName"],
            ),
        },
        rules=[needs_exactly_one("istio", ["virtualService", "virtualServices"])],
    )


def gateway_api() -> Schema:
    """Gateway API HTTPRoute weights; the same shape Argo's gatewayAPI plugin reads."""
    return obj(
        "Gateway API HTTPRoute backend weights.",
        {
            "httpRoute": name("The HTTPRoute to edit."),
            "httpRoutes": array(
                obj(
                    "An HTTPRoute to edit.",
                    {
                        "name": name("HTTPRoute name."),
                        "useHeaderRoutes": boolean("Also add header-based routes to this HTTPRoute."),
                    },
                    required=["name"],
                ),
                "Several HTTPRoutes.",
                min_items=1,
                max_items=16,
            ),
            "namespace": name("Namespace of the HTTPRoute(s); defaults to the Rollout's.", max_length=SHORT_NAME_MAX),
            "useHeaderRoutes": boolean("Add header-based routes for setHeaderRoute steps."),
            "configMap": string(
                "Accepted for Argo compatibility and not needed: managed routes are found by name in the routes."
            ),
            "disableInProgressLabel": boolean(
                "Accepted for Argo compatibility: routes are never labelled while an update is in progress."
            ),
            **unsupported_fields(UNSUPPORTED_GATEWAY_FIELDS),
        },
        rules=[needs_exactly_one("gatewayAPI", ["httpRoute", "httpRoutes"])],
    )


def traffic_routing() -> Schema:
    plugins = map_of(
        gateway_api(),
        f"Router plugins by name; only {GATEWAY_API_PLUGIN} is built in.",
        max_properties=1,
    )
    plugins["x-kubernetes-validations"] = [
        rule(
            f"self.all(k, k == '{GATEWAY_API_PLUGIN}')",
            f"only the {GATEWAY_API_PLUGIN} traffic router plugin is supported (or use trafficRouting.gatewayAPI)",
            reason="FieldValueForbidden",
        )
    ]
    return obj(
        "How traffic is split between canary and stable.",
        {
            "nginx": _nginx(),
            "istio": _istio(),
            "gatewayAPI": gateway_api(),
            "alb": _alb(),
            "plugins": plugins,
            "managedRoutes": array(
                obj(
                    "A route the controller may add and remove.",
                    {"name": _route_name("Route name.")},
                    required=["name"],
                ),
                "Routes managed by setHeaderRoute/setMirrorRoute steps, highest precedence first.",
                max_items=MANAGED_ROUTES_MAX,
                map_keys=["name"],
            ),
            "maxTrafficWeight": integer(
                "The total every weight counts in (default 100): setWeight 5 of 1000 is 0.5% of the traffic.",
                minimum=1,
                maximum=MAX_TRAFFIC_WEIGHT_LIMIT,
            ),
            **unsupported_fields(UNSUPPORTED_ROUTERS),
        },
        rules=[
            rule(
                "has(self.nginx) || has(self.istio) || has(self.gatewayAPI) || has(self.alb) || has(self.plugins)"
                " || " + " || ".join(f"has(self.{router})" for router in UNSUPPORTED_ROUTERS),
                "trafficRouting needs a router: nginx, istio, alb or gatewayAPI",
            ),
            rule(
                f"!has(self.alb) || !has(self.maxTrafficWeight) || self.maxTrafficWeight <= {ALB_MAX_WEIGHT}",
                f"an ALB target group weight is at most {ALB_MAX_WEIGHT}: with alb, maxTrafficWeight must not exceed "
                f"{ALB_MAX_WEIGHT}",
                field_path=".maxTrafficWeight",
            ),
            rule(
                "!(has(self.gatewayAPI) && has(self.plugins))",
                f"set trafficRouting.gatewayAPI or plugins['{GATEWAY_API_PLUGIN}'], not both",
                field_path=".plugins",
                reason="FieldValueForbidden",
            ),
        ],
    )


_MAX_WEIGHT = (
    "(has(self.trafficRouting) && has(self.trafficRouting.maxTrafficWeight)"
    f" ? self.trafficRouting.maxTrafficWeight : {DEFAULT_MAX_WEIGHT})"
)
_WEIGHT_RULE = (
    f"!has(self.steps) || self.steps.all(s, (!has(s.setWeight) || s.setWeight <= {_MAX_WEIGHT})"
    " && (!has(s.setCanaryScale) || !has(s.setCanaryScale.weight)"
    f" || s.setCanaryScale.weight <= {_MAX_WEIGHT}))"
)
_DYNAMIC = "has(self.dynamicStableScale) && self.dynamicStableScale"

_STEP_ROUTE_RULE = (
    "!has(self.steps) || self.steps.all(s, "
    "(!has(s.setHeaderRoute) || (has(self.trafficRouting) && has(self.trafficRouting.managedRoutes)"
    " && self.trafficRouting.managedRoutes.exists(r, r.name == s.setHeaderRoute.name)))"
    " && (!has(s.setMirrorRoute) || (has(self.trafficRouting) && has(self.trafficRouting.managedRoutes)"
    " && self.trafficRouting.managedRoutes.exists(r, r.name == s.setMirrorRoute.name))))"
)


def canary() -> Schema:
    return obj(
        "Move to the new version step by step, by replicas or by traffic weight.",
        {
            "canaryService": name("Service selecting only canary pods."),
            "stableService": name("Service selecting only stable pods."),
            "steps": array(
                canary_step(), "The plan; without steps the update is a rolling update.", max_items=STEPS_MAX
            ),
            "trafficRouting": traffic_routing(),
            "maxSurge": _surge("Pods above spec.replicas during the update: a count or a percentage (default 25%)."),
            "maxUnavailable": _surge("Pods that may be unavailable: a count or a percentage (default 25%)."),
            "analysis": rollout_analysis("Background analysis running during the whole update.", background=True),
            # No schema default: Argo refuses it without trafficRouting, so a default would refuse every basic canary.
            "scaleDownDelaySeconds": integer(
                "Delay before scaling down the old stable after a traffic-routed promotion (default 30; traffic "
                "routing only).",
                minimum=0,
            ),
            "abortScaleDownDelaySeconds": integer(
                "Delay before scaling down the canary after an abort (0: never).", minimum=0, default=30
            ),
            "scaleDownDelayRevisionLimit": _scale_down_delay_revision_limit(),
            "canaryMetadata": labels_and_annotations("Labels and annotations on canary pods while they are canary."),
            "stableMetadata": labels_and_annotations("Labels and annotations on stable pods."),
            "dynamicStableScale": boolean("Scale the stable down as traffic moves to the canary (traffic routing)."),
            "minPodsPerReplicaSet": integer(
                "With traffic routing: a canary or stable ReplicaSet that has pods has at least this many "
                "(capped at spec.replicas).",
                minimum=0,
            ),
            "antiAffinity": anti_affinity("canary"),
            "pingPong": obj(
                "Two Services that take turns as stable and canary (status.canary.stablePingPong says which is "
                "stable); used instead of stableService/canaryService, with Istio host-level routing.",
                {
                    "pingService": name("One of the two Services."),
                    "pongService": name("The other Service."),
                },
                required=["pingService", "pongService"],
                rules=[
                    rule(
                        "self.pingService != self.pongService",
                        "This rollout uses the same service for the ping and pong services, but two different "
                        "services are required.",
                        field_path=".pingService",
                    )
                ],
            ),
            **unsupported_fields(
                {
                    "replicaProgressThreshold": "replicaProgressThreshold (every desired canary pod must be available)",
                }
            ),
        },
        rules=[
            rule(
                "!has(self.canaryService) || !has(self.stableService) || self.canaryService != self.stableService",
                "canaryService and stableService must be different Services",
                field_path=".stableService",
            ),
            rule(
                "!has(self.trafficRouting) || (has(self.canaryService) && has(self.stableService))"
                " || (has(self.trafficRouting.istio) && has(self.trafficRouting.istio.destinationRule))"
                " || has(self.pingPong)",
                "trafficRouting needs canaryService and stableService (except Istio subset routing with "
                "destinationRule, or pingPong)",
                field_path=".trafficRouting",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.pingPong) || has(self.trafficRouting)",
                "pingPong needs trafficRouting (Istio host-level routing, or ALB)",
                field_path=".pingPong",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.pingPong) || !has(self.trafficRouting) || has(self.trafficRouting.istio)"
                " || has(self.trafficRouting.alb) || has(self.trafficRouting.plugins)"
                " || has(self.trafficRouting.gatewayAPI)",
                "Ping-pong feature works with the ALB, Istio, and plugin-based traffic routers only",
                field_path=".trafficRouting",
            ),
            rule(
                "!has(self.pingPong) || !has(self.trafficRouting) || !has(self.trafficRouting.nginx)",
                "nginx routes by stableService and canaryService, which pingPong replaces: not supported together",
                field_path=".trafficRouting.nginx",
                reason="FieldValueForbidden",
            ),
            rule(
                "!has(self.pingPong) || (!has(self.stableService) && !has(self.canaryService))",
                "stableService and canaryService are not supported together with pingPong: the ping and pong "
                "Services are the stable and canary Services",
                field_path=".pingPong",
                reason="FieldValueForbidden",
            ),
            rule(
                "!has(self.maxSurge) || !has(self.maxUnavailable) || !(string(self.maxSurge) in ['0', '0%'])"
                " || !(string(self.maxUnavailable) in ['0', '0%'])",
                "maxSurge and maxUnavailable cannot both be 0",
                field_path=".maxUnavailable",
            ),
            rule(
                _STEP_ROUTE_RULE,
                "setHeaderRoute and setMirrorRoute steps must name a route listed in trafficRouting.managedRoutes",
                field_path=".steps",
            ),
            rule(
                "!has(self.steps) || self.steps.all(s, !has(s.setHeaderRoute) && !has(s.setMirrorRoute))"
                " || has(self.trafficRouting)",
                "setHeaderRoute and setMirrorRoute steps need trafficRouting",
                field_path=".trafficRouting",
                reason="FieldValueRequired",
            ),
            rule(
                _WEIGHT_RULE,
                "setWeight and setCanaryScale.weight must be between 0 and trafficRouting.maxTrafficWeight "
                f"(default {DEFAULT_MAX_WEIGHT})",
                field_path=".steps",
            ),
            # Argo's validation: these mean something only when a router splits traffic.
            rule(
                "!has(self.scaleDownDelaySeconds) || has(self.trafficRouting)",
                "Canary scaleDownDelaySeconds can only be used with traffic routing",
                field_path=".scaleDownDelaySeconds",
                reason="FieldValueForbidden",
            ),
            rule(
                f"!({_DYNAMIC}) || has(self.trafficRouting)",
                "Canary dynamicStableScale can only be used with traffic routing",
                field_path=".dynamicStableScale",
                reason="FieldValueForbidden",
            ),
            rule(
                f"!({_DYNAMIC}) || !has(self.scaleDownDelaySeconds)",
                "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds",
                field_path=".dynamicStableScale",
                reason="FieldValueForbidden",
            ),
            rule(
                "!has(self.minPodsPerReplicaSet) || has(self.trafficRouting)",
                "minPodsPerReplicaSet can only be used with traffic routing",
                field_path=".minPodsPerReplicaSet",
                reason="FieldValueForbidden",
            ),
            rule(
                "has(self.trafficRouting) || !has(self.steps) || self.steps.all(s, !has(s.setCanaryScale))",
                "SetCanaryScale requires TrafficRouting to be set",
                field_path=".trafficRouting",
                reason="FieldValueRequired",
            ),
        ],
    )


def blue_green() -> Schema:
    return obj(
        "Run the new version beside the old one and switch the active Service when promoted.",
        {
            "activeService": name("Service that receives production traffic."),
            "previewService": name("Service that selects the new version before promotion."),
            "autoPromotionEnabled": boolean("Promote as soon as the preview is available.", default=True),
            "autoPromotionSeconds": integer("Wait this long before auto-promotion.", minimum=0),
            "previewReplicaCount": integer("Replicas of the preview before promotion (default: all).", minimum=0),
            "prePromotionAnalysis": rollout_analysis("Analysis that must pass before the switch."),
            "postPromotionAnalysis": rollout_analysis("Analysis run after the switch; failure switches back."),
            "scaleDownDelaySeconds": integer(
                "Delay before scaling down the old version after the switch.", minimum=0, default=30
            ),
            "abortScaleDownDelaySeconds": integer(
                "Delay before scaling down the preview after an abort (0: never).", minimum=0, default=30
            ),
            "activeMetadata": labels_and_annotations("Labels and annotations on active pods."),
            "previewMetadata": labels_and_annotations("Labels and annotations on preview pods."),
            "maxUnavailable": _surge("Pods restartAt may evict at once: a count or a percentage (default 25%)."),
            "scaleDownDelayRevisionLimit": _scale_down_delay_revision_limit(),
            "antiAffinity": anti_affinity("preview"),
        },
        required=["activeService"],
        rules=[
            rule(
                "!has(self.previewService) || !has(self.activeService) || self.previewService != self.activeService",
                "previewService must differ from activeService",
                field_path=".previewService",
            )
        ],
    )


def spec() -> Schema:
    return obj(
        "The desired application and how to move it to a new version.",
        {
            "replicas": integer("Desired pods.", minimum=0, default=1),
            "selector": obj(
                "Label selector of the pods; must match the template's labels.",
                {
                    "matchLabels": string_map("Labels that must all match."),
                    "matchExpressions": array(
                        obj(
                            "A set-based requirement.",
                            {
                                "key": string("Label key.", min_length=1),
                                "operator": string("Operator.", enum=["In", "NotIn", "Exists", "DoesNotExist"]),
                                "values": array(string(), "Values for In/NotIn."),
                            },
                            required=["key", "operator"],
                        ),
                        "Set-based requirements.",
                    ),
                },
                rules=[
                    rule(
                        "has(self.matchLabels) || has(self.matchExpressions)",
                        "selector needs matchLabels or matchExpressions",
                    )
                ],
            ),
            "template": open_object(
                "A PodTemplateSpec, validated by the ReplicaSet and Pod APIs when the controller applies it.",
                properties={
                    "metadata": open_object("Pod labels and annotations."),
                    "spec": open_object("A PodSpec."),
                },
            ),
            "workloadRef": obj(
                "Take the pod template and selector from another workload instead of spec.template.",
                {
                    "apiVersion": string("API version of the workload, e.g. apps/v1.", min_length=1),
                    "kind": string("Kind of the workload, e.g. Deployment.", min_length=1),
                    "name": name("Name of the workload."),
                    "scaleDown": string(
                        "What to do with the referenced workload: never, onsuccess or progressively.",
                        enum=["never", "onsuccess", "progressively"],
                    ),
                },
                required=["apiVersion", "kind", "name"],
            ),
            "minReadySeconds": integer("Seconds a pod must be ready to count as available.", minimum=0),
            "revisionHistoryLimit": integer("Old ReplicaSets to keep.", minimum=0, default=10),
            "paused": boolean("Pause the rollout where it is."),
            "progressDeadlineSeconds": integer(
                "Seconds without progress before the rollout is Degraded.", minimum=1, default=600
            ),
            "progressDeadlineAbort": boolean("Abort the update when the progress deadline is exceeded."),
            "restartAt": timestamp("Restart every pod created before this time."),
            "analysis": obj(
                "How many finished AnalysisRuns to keep.",
                {
                    "successfulRunHistoryLimit": integer("Successful runs to keep (default 5).", minimum=0),
                    "unsuccessfulRunHistoryLimit": integer("Unsuccessful runs to keep (default 5).", minimum=0),
                },
            ),
            "strategy": obj(
                "The update strategy: exactly one of canary or blueGreen.",
                {"canary": canary(), "blueGreen": blue_green()},
                rules=[needs_exactly_one("strategy", ["canary", "blueGreen"])],
            ),
            "rollbackWindow": obj(
                "A rollback to one of the last `revisions` versions skips the steps and analysis (a fast rollback).",
                {
                    "revisions": integer(
                        "How many of the most recent older versions count as within the window.", minimum=0
                    )
                },
            ),
        },
        required=["strategy"],
        rules=[
            rule(
                "has(self.workloadRef) || has(self.selector)",
                "spec.selector is required unless spec.workloadRef is set",
                field_path=".selector",
                reason="FieldValueRequired",
            ),
            rule(
                "has(self.workloadRef) || has(self.template)",
                "spec.template is required unless spec.workloadRef is set",
                field_path=".template",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.workloadRef) || !has(self.template) || !has(self.template.spec)",
                "spec.template must be empty when spec.workloadRef is set",
                field_path=".template",
                reason="FieldValueForbidden",
            ),
            rule(
                "!has(self.strategy.blueGreen) || !has(self.strategy.blueGreen.scaleDownDelayRevisionLimit)"
                " || !has(self.revisionHistoryLimit)"
                " || self.strategy.blueGreen.scaleDownDelayRevisionLimit <= self.revisionHistoryLimit",
                "This rollout's revision history limit can not be smaller than the rollout's scale down limit",
                field_path=".strategy.blueGreen.scaleDownDelayRevisionLimit",
            ),
        ],
    )


def _analysis_run_ref() -> Schema:
    return obj(
        "The AnalysisRun of a step, background or promotion.",
        {
            "name": string("AnalysisRun name."),
            "status": string("Phase of the run."),
            "message": message("Message of the run."),
        },
    )


def _weight_destination() -> Schema:
    return obj(
        "Where a share of traffic goes.",
        {
            "weight": integer("Share of traffic, in units of trafficRouting.maxTrafficWeight (default 100)."),
            "serviceName": string("Service receiving it."),
            "podTemplateHash": string("Pod template hash of the ReplicaSet receiving it."),
        },
    )


def status() -> Schema:
    return obj(
        "Observed state of the Rollout. abort and promoteFull are also set by users (kubectl rollouts).",
        {
            "phase": string("Healthy, Progressing, Paused or Degraded."),
            "message": message(),
            "abort": boolean("The update is aborted (set by kubectl rollouts abort)."),
            "abortedAt": timestamp("When the abort was reconciled."),
            "promoteFull": boolean("Skip remaining steps, analysis and pauses (kubectl rollouts promote --full)."),
            "controllerPause": boolean("The controller paused the rollout."),
            "pauseConditions": unbounded_array(
                obj(
                    "Why the rollout is paused.",
                    {
                        "reason": string("CanaryPauseStep, BlueGreenPause, InconclusiveAnalysisRun, ..."),
                        "startTime": timestamp("When the pause began."),
                    },
                    required=["reason", "startTime"],
                ),
                "Reasons the controller paused the rollout; clearing them resumes it.",
            ),
            "currentPodHash": string("Pod template hash of the desired version."),
            "currentStepHash": string("Hash of the steps, to detect edits to the plan."),
            "currentStepIndex": integer("Index of the current canary step."),
            "stableRS": string("Pod template hash of the stable ReplicaSet."),
            "replicas": integer("Non-terminated pods selected by the rollout."),
            "updatedReplicas": integer("Pods of the desired version."),
            "readyReplicas": integer("Ready pods."),
            "availableReplicas": integer("Available pods."),
            "HPAReplicas": integer(
                "Pods receiving active traffic (the scale subresource's replicas, what an HPA reads)."
            ),
            "collisionCount": integer("Hash collisions seen when naming ReplicaSets."),
            "selector": string("Label selector of the pods, for the scale subresource."),
            "observedGeneration": observed_generation(),
            "workloadObservedGeneration": observed_generation(),
            "restartedAt": timestamp("When the last restart was carried out."),
            "conditions": conditions(),
            **unsupported_fields(
                {"alb": "AWS target group verification", "albs": ("AWS target group verification", "objects")}
            ),
            "canary": obj(
                "Canary-only state.",
                {
                    "currentStepAnalysisRunStatus": _analysis_run_ref(),
                    "currentBackgroundAnalysisRunStatus": _analysis_run_ref(),
                    "weights": obj(
                        "The weights last set on the traffic router; canary and stable add up to maxTrafficWeight.",
                        {
                            "canary": _weight_destination(),
                            "stable": _weight_destination(),
                            "additional": unbounded_array(_weight_destination(), "Other destinations."),
                            "verified": boolean("The router confirmed the weights."),
                        },
                    ),
                    "stablePingPong": string(
                        "With canary.pingPong: which of the two Services serves the stable version (ping or pong)."
                    ),
                    **unsupported_fields(
                        {
                            "currentExperiment": ("the experiment canary step", "string"),
                            "stepPluginStatuses": ("step plugins", "objects"),
                        }
                    ),
                },
            ),
            "blueGreen": obj(
                "Blue-green-only state.",
                {
                    "activeSelector": string("Pod template hash selected by the active Service."),
                    "previewSelector": string("Pod template hash selected by the preview Service."),
                    "scaleUpPreviewCheckPoint": boolean("The preview may scale up to full size."),
                    "prePromotionAnalysisRunStatus": _analysis_run_ref(),
                    "postPromotionAnalysisRunStatus": _analysis_run_ref(),
                },
            ),
        },
    )


def rollout_crd() -> dict[str, object]:
    return crd(
        kind="Rollout",
        plural="rollouts",
        short_names=["ro"],
        scope="Namespaced",
        description="A Deployment-like workload released progressively by canary or blue-green steps.",
        spec=spec(),
        status=status(),
        columns=[
            printer_column("Desired", ".spec.replicas", "integer", "Desired pods."),
            printer_column("Current", ".status.replicas", "integer", "Non-terminated pods."),
            printer_column("Up-to-date", ".status.updatedReplicas", "integer", "Pods of the desired version."),
            printer_column("Available", ".status.availableReplicas", "integer", "Available pods."),
            printer_column("Phase", ".status.phase", "string", "Healthy, Progressing, Paused or Degraded."),
            printer_column("Step", ".status.currentStepIndex", "integer", "Current canary step."),
        ],
        scale={
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.HPAReplicas",
            "labelSelectorPath": ".status.selector",
        },
    )


__all__ = ["gateway_api", "rollout_crd"]
