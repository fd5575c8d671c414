# The nodes of the gcp vendor: one Compute Engine instance each,
# labelled with its account, node, node type, jobs and user.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
    }
  }
}

variable "nodes" {
  description = "Desired nodes by Slurm name: node type, address, jobs, user."
  type = map(object({
    node_type = string
    address   = string
    jobs      = string
    user      = string
  }))
}

variable "machine_types" {
  type        = map(string)
  description = "Machine type by Skyway node type."
}

variable "image" {
  type = string
}

variable "zone" {
  type = string
}

variable "network" {
  type    = string
  default = "default"
}

variable "service_account" {
  type    = string
  default = ""
}

variable "login_user" {
  type = string
}

variable "labels" {
  type = map(string)
}

locals {
  # Label values: lower case, digits, '_' and '-', at most 63 characters.
  labels = {
    for name, node in var.nodes : name => {
      for key, value in merge(var.labels, {
        node      = name
        node_type = node.node_type
        jobs      = node.jobs
        user      = node.user
      }) : key => substr(replace(lower(value), "/[^a-z0-9_-]/", "_"), 0, 63)
    }
  }
  service_accounts = compact([var.service_account])
}

resource "google_compute_instance" "node" {
  for_each = var.nodes

  name         = each.key
  machine_type = var.machine_types[each.value.node_type]
  zone         = var.zone
  labels       = local.labels[each.key]

  boot_disk {
    initialize_params {
      image  = var.image
      labels = local.labels[each.key]
    }
  }

  network_interface {
    network = var.network
  }

  metadata = {
    enable-oslogin = "FALSE"
    ssh-user       = var.login_user
  }

  dynamic "service_account" {
    for_each = local.service_accounts
    content {
      email  = service_account.value
      scopes = ["cloud-platform"]
    }
  }
}

output "nodes" {
  value = {
    for name, node in google_compute_instance.node : name => {
      id      = node.instance_id
      address = node.network_interface[0].network_ip
    }
  }
}
