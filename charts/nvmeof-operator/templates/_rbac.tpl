{{/* The operator's RBAC rules, split by scope (templates/rbac.yaml). */}}
{{- define "nvmeof-operator.namespacedRules" }}
- apiGroups: ["nvmeof.io"]
  resources: ["nvmeofsubsystems"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["nvmeof.io"]
  resources: ["nvmeofsubsystems/status"]
  verbs: ["get", "patch", "update"]
# Setting blockOwnerDeletion on the pods, ConfigMaps and Services a subsystem owns.
- apiGroups: ["nvmeof.io"]
  resources: ["nvmeofsubsystems/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["pods", "configmaps", "services"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
{{- define "nvmeof-operator.clusterRules" }}
# Nodes: where a subsystem's state lives; namespaces: whether they admit privileged pods.
- apiGroups: [""]
  resources: ["nodes", "namespaces"]
  verbs: ["get", "list", "watch"]
{{- end }}
