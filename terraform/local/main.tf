# The nodes of the local vendor: "instances" on the management host.
#
# terraform_data keeps each in Terraform state like a cloud instance;
# its create and destroy provisioners start and stop the node through
# skyway.vendors.local_node, with an argument list and no shell.

terraform {
  required_version = ">= 1.5"
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

variable "tags" {
  type        = map(string)
  description = "Tags every node carries (account, vendor)."
}

variable "python" {
  type        = string
  description = "The Python interpreter that runs skyway.vendors.local_node."
}

variable "root" {
  type = string
}

variable "state_dir" {
  type = string
}

variable "mode" {
  type        = string
  description = "record (a record file) or netns (a network namespace)."
}

resource "terraform_data" "instance" {
  for_each = var.nodes

  input = {
    name      = each.key
    address   = each.value.address
    node_type = each.value.node_type
    tags = merge(var.tags, {
      node      = each.key
      node_type = each.value.node_type
      jobs      = each.value.jobs
      user      = each.value.user
    })
    python    = var.python
    root      = var.root
    state_dir = var.state_dir
    mode      = var.mode
  }

  provisioner "local-exec" {
    interpreter = [
      self.input.python, "-m", "skyway.vendors.local_node", "up",
      "--root", self.input.root, "--state-dir", self.input.state_dir,
      "--mode", self.input.mode, self.input.name,
    ]
    command = self.input.address
  }

  provisioner "local-exec" {
    when = destroy
    interpreter = [
      self.input.python, "-m", "skyway.vendors.local_node", "down",
      "--root", self.input.root, "--state-dir", self.input.state_dir,
      "--mode", self.input.mode, self.input.name,
    ]
    command = self.input.address
  }
}

output "nodes" {
  description = "Instance id and address of every node."
  value = {
    for name, node in terraform_data.instance : name => {
      id      = node.id
      address = node.output.address
    }
  }
}
