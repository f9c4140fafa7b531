{{/* Names and labels. */}}
{{- define "quiver.fullname" -}}
{{- printf "%s-quiver" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "quiver.labels" -}}
app.kubernetes.io/name: quiver
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "quiver.s3secret" -}}
{{- if .Values.s3.existingSecret -}}
{{- .Values.s3.existingSecret -}}
{{- else -}}
{{- printf "%s-s3" (include "quiver.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The environment every role shares: the cluster backends. */}}
{{- define "quiver.env" -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: QUIVER_METAKV_BACKEND
  value: etcd
- name: QUIVER_ETCD_ENDPOINTS
  value: {{ .Values.etcd.endpoints | quote }}
- name: QUIVER_METAKV_ROOTPATH
  value: {{ .Values.etcd.rootPath | quote }}
- name: QUIVER_WAL_BACKEND
  value: kafka
- name: QUIVER_KAFKA_BROKERS
  value: {{ .Values.kafka.brokers | quote }}
- name: QUIVER_KAFKA_TOPICPREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: QUIVER_OBJSTORE_BACKEND
  value: s3
- name: QUIVER_S3_ENDPOINT
  value: {{ .Values.s3.endpoint | quote }}
- name: QUIVER_S3_BUCKET
  value: {{ .Values.s3.bucket | quote }}
- name: QUIVER_S3_REGION
  value: {{ .Values.s3.region | quote }}
- name: QUIVER_S3_PATHSTYLE
  value: {{ .Values.s3.pathStyle | quote }}
- name: QUIVER_S3_CREATEBUCKET
  value: {{ .Values.s3.createBucket | quote }}
- name: QUIVER_S3_ACCESSKEY
  valueFrom:
    secretKeyRef:
      name: {{ include "quiver.s3secret" . }}
      key: accessKey
- name: QUIVER_S3_SECRETKEY
  valueFrom:
    secretKeyRef:
      name: {{ include "quiver.s3secret" . }}
      key: secretKey
- name: QUIVER_HTTP_PORT
  value: {{ .Values.httpPort | quote }}
{{- end -}}
