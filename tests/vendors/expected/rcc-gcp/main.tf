# Workspace of account rcc-gcp (vendor gcp), rendered by Skyway
# from templates/gcp/. Edit the template, not this file.
#
# The desired nodes are data: nodes/<workspace>.json, written from the
# database before each run. Each Terraform workspace holds a share of
# the account's nodes, so one node change reads and writes a small state.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

provider "google" {
  project = "rcc-skyway-demo"
  region  = "us-central1"
  zone    = "us-central1-a"

  default_labels = local.labels
}

locals {
  nodes_file     = "${path.root}/nodes/${terraform.workspace}.json"
  nodes          = fileexists(local.nodes_file) ? jsondecode(file(local.nodes_file)) : {}
  instance_types = { "c1" = "e2-small", "c8" = "n2-standard-8" }
  labels = {
    account = "rcc-gcp"
    vendor  = "gcp"
    managed = "skyway"
  }
}

module "node" {
  source = "./modules/node"

  nodes           = local.nodes
  machine_types   = local.instance_types
  image           = "projects/debian-cloud/global/images/family/debian-12"
  zone            = "us-central1-a"
  network         = "default"
  service_account = "skyway@rcc-skyway-demo.iam.gserviceaccount.com"
  login_user      = "skyway"
  labels          = local.labels
}
