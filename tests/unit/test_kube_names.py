"""Which generated names a Kubernetes cluster would refuse."""

from __future__ import annotations

from rpod.kube.names import cluster_name_problems


def test_lower_case_names_pass_and_mixed_case_are_named_once() -> None:
    good = {"kind": "Pod", "metadata": {"name": "web-pod"},
            "spec": {"containers": [{"name": "web", "env": [{"name": "PATH"}]}], "volumes": [{"name": "data"}]}}
    assert cluster_name_problems([good]) == []  # env names may be upper case
    bad = {"kind": "Pod", "metadata": {"name": "cAbC-pod"},
           "spec": {"containers": [{"name": "cAbC"}, {"name": "cAbC"}], "initContainers": [{"name": "x_y"}]}}
    assert cluster_name_problems([bad]) == ["cAbC-pod", "cAbC", "x_y"]


def test_deployments_and_long_labels() -> None:
    dep = {"kind": "Deployment", "metadata": {"name": "app"},
           "spec": {"template": {"spec": {"containers": [{"name": "a" * 64}]}}}}
    assert cluster_name_problems([dep, None]) == ["a" * 64]
