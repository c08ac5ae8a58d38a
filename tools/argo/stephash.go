// Prints Argo Rollouts' currentStepHash (conditions.ComputeStepHash) for each line of stdin: a JSON array of canary
// steps. It pins the values tests/unit/rollouts/test_step_hash.py checks our hash against. Build it inside a writable
// copy of the github.com/argoproj/argo-rollouts v1.10.1 module (the conformance harness makes one):
//   tools/argo/run.sh stephash < steps.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/conditions"
)

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var steps []v1alpha1.CanaryStep
		if err := json.Unmarshal(scanner.Bytes(), &steps); err != nil {
			fmt.Println("error:", err)
			continue
		}
		ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: steps}}}}
		fmt.Println(conditions.ComputeStepHash(ro))
	}
}
