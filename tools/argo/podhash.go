// Prints Argo Rollouts' pod-template hash (utils/hash.ComputePodTemplateHash) for each line of stdin, a JSON object
// {"template": <a Rollout's spec.template>, "collisionCount": <int or null>}, as "<hash>\t<Go's JSON of the template>".
// It pins the values tests/unit/rollouts/test_pod_template_hash.py checks rollouts.core.hashing against, and the JSON
// shows where an encoding differs. The template is decoded as client-go decodes a Rollout (sigs.k8s.io/json, case
// sensitive). Run it inside the Argo Rollouts v1.10.1 module (tools/argo/run.sh podhash < cases.jsonl).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/argoproj/argo-rollouts/utils/hash"
	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
)

type input struct {
	Template       json.RawMessage `json:"template"`
	CollisionCount *int32          `json:"collisionCount"`
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<24), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for scanner.Scan() {
		var in input
		if err := json.Unmarshal(scanner.Bytes(), &in); err != nil {
			fmt.Fprintln(out, "error:", err)
			continue
		}
		var template corev1.PodTemplateSpec
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(in.Template, &template); err != nil {
			fmt.Fprintln(out, "error:", err)
			continue
		}
		encoded, err := json.Marshal(&template)
		if err != nil {
			fmt.Fprintln(out, "error:", err)
			continue
		}
		fmt.Fprintf(out, "%s\t%s\n", hash.ComputePodTemplateHash(&template, in.CollisionCount), encoded)
	}
}
