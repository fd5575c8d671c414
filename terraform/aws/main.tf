# The nodes of the aws vendor: one EC2 instance each, tagged with its
# account, node, node type, jobs and user.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
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

variable "instance_types" {
  type        = map(string)
  description = "EC2 instance type by Skyway node type."
}

variable "image" {
  type        = string
  description = "AMI id."
}

variable "subnet_id" {
  type        = string
  default     = null
  description = "Subnet id; null for the region's default subnet."
}

variable "security_group_ids" {
  type    = list(string)
  default = []
}

variable "tags" {
  type = map(string)
}

resource "aws_instance" "node" {
  for_each = var.nodes

  ami                    = var.image
  instance_type          = var.instance_types[each.value.node_type]
  subnet_id              = var.subnet_id
  vpc_security_group_ids = var.security_group_ids
  tags = merge(var.tags, {
    Name      = each.key
    node      = each.key
    node_type = each.value.node_type
    jobs      = each.value.jobs
    user      = each.value.user
  })
  volume_tags = merge(var.tags, { node = each.key })

  metadata_options {
    http_tokens = "required"
  }
}

output "nodes" {
  value = {
    for name, node in aws_instance.node : name => {
      id      = node.id
      address = node.private_ip
    }
  }
}
