output "nodes" {
  description = "Instance id and address of every node of this workspace."
  value = {
    for name, node in module.node : name => {
      id      = node.id
      address = node.address
    }
  }
}
