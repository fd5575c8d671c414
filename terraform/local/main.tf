# A node of the local vendor: an "instance" on the management host.
#
# terraform_data keeps it in Terraform state like any cloud instance;
# its create and destroy provisioners start and stop the node through
# skyway.vendors.local_node, with an argument list and no shell.

terraform {
  required_version = ">= 1.5"
}

variable "name" {
  type        = string
  description = "Slurm node name, <account>-<type>-<NNN>."
}

variable "node_type" {
  type = string
}

variable "address" {
  type        = string
  description = "The node's address, assigned by Skyway."
}

variable "tags" {
  type        = map(string)
  description = "Account, node, node type, jobs and user."
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
  input = {
    name      = var.name
    address   = var.address
    node_type = var.node_type
    tags      = var.tags
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

output "id" {
  value = terraform_data.instance.id
}

output "address" {
  value = terraform_data.instance.output.address
}
